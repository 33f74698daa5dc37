"""Microphone capture for voice turns, with no Qt: Recorder, device picker, VAD, hands-free turns.

Importing this package does not load PortAudio; `Recorder.start()` and `list_input_devices()` do,
and turn every failure into a `MicrophoneError` that a person can act on.
"""

from app.audio.capture import SAMPLE_RATE, Level, Recorder
from app.audio.devices import InputDevice, list_input_devices, pick_input_device, refresh_devices
from app.audio.errors import MicrophoneError
from app.audio.turns import TurnAudio, TurnEnded, TurnSegmenter, TurnStarted
from app.audio.vad import SpeechEnded, SpeechStarted, VoiceActivityDetector

__all__ = [
    "SAMPLE_RATE",
    "InputDevice",
    "Level",
    "MicrophoneError",
    "Recorder",
    "SpeechEnded",
    "SpeechStarted",
    "TurnAudio",
    "TurnEnded",
    "TurnSegmenter",
    "TurnStarted",
    "VoiceActivityDetector",
    "list_input_devices",
    "pick_input_device",
    "refresh_devices",
]
