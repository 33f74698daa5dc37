"""The one exception the microphone code raises, and the translation of PortAudio's errors into it.

Every failure a person can meet while recording (no audio library, no audio server, no input
device, permission denied, the device gone mid-recording, a device name that matches nothing)
becomes a `MicrophoneError` whose message says what happened and what to do about it. `reason`
is a short machine-readable tag the UI can switch on; the message is for people.
"""

from __future__ import annotations

import sys

NO_PORTAUDIO = "no_portaudio"
NO_AUDIO_SERVER = "no_audio_server"
NO_INPUT_DEVICE = "no_input_device"
PERMISSION_DENIED = "permission_denied"
DEVICE_LOST = "device_lost"
DEVICE_NOT_FOUND = "device_not_found"
UNSUPPORTED_DEVICE = "unsupported_device"
PORTAUDIO_ERROR = "portaudio_error"

PERMISSION_HINT = (
    "Open System Settings > Privacy & Security > Microphone and turn on the switch for Tandem "
    "(or for the Terminal app that started it), then start recording again. If Tandem is not "
    "in the list, quit it and start it again so that macOS asks for permission."
)

# CoreAudio's kAudioComponentErr_NotPermitted: the text PortAudio shows when macOS denies the
# microphone (PortAudio issues 514 and 520: "||PaMacCore (AUHAL)|| Error ... err='-66748'").
_MACOS_NOT_PERMITTED = "-66748"


class MicrophoneError(Exception):
    """A recording problem, explained for a person.

    Args:
        message: what happened and what to do, in plain words.
        reason: one of the module's reason tags (`NO_INPUT_DEVICE`, `PERMISSION_DENIED`, ...).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0])


def no_portaudio(detail: str) -> MicrophoneError:
    if sys.platform == "darwin":
        fix = "Reinstall Tandem; its sounddevice package ships PortAudio on macOS."
    else:
        fix = "Install it (Debian/Ubuntu: `apt-get install libportaudio2`) and start Tandem again."
    return MicrophoneError(
        f"The audio library PortAudio could not be loaded ({detail}), so Tandem cannot record. {fix}",
        NO_PORTAUDIO,
    )


def no_input_device(server_reachable: bool) -> MicrophoneError:
    if not server_reachable:
        return MicrophoneError(
            "No audio server is running (PulseAudio or PipeWire), so there is no microphone to "
            "record from. Start your desktop's sound service, or log in to a desktop session, "
            "and try again.",
            NO_AUDIO_SERVER,
        )
    return MicrophoneError(
        "No microphone was found. Connect a microphone or headset, check that it is switched on "
        "and selected as the input in your system's sound settings, then try again.",
        NO_INPUT_DEVICE,
    )


def permission_denied(detail: str = "") -> MicrophoneError:
    said = f" (the system said: {detail})" if detail else ""
    return MicrophoneError(
        f"macOS did not allow Tandem to use the microphone{said}. {PERMISSION_HINT}",
        PERMISSION_DENIED,
    )


def device_lost(device_name: str, seconds_kept: float) -> MicrophoneError:
    return MicrophoneError(
        f"The microphone '{device_name}' stopped delivering audio (it was unplugged or switched "
        f"off). The {seconds_kept:.1f} s recorded before that are kept. Reconnect it or choose "
        "another input device to continue.",
        DEVICE_LOST,
    )


def from_portaudio(exc: BaseException, device_name: str, server_reachable: bool) -> MicrophoneError:
    """Explain a PortAudio error raised while opening or starting an input stream.

    Args:
        exc: the `sounddevice.PortAudioError` (or any exception) that was raised.
        device_name: the device that was being opened, for the message.
        server_reachable: whether an audio server socket exists (see `devices.audio_server_reachable`).

    Returns:
        The `MicrophoneError` to raise instead, chained by the caller.
    """
    text = str(exc)
    if _MACOS_NOT_PERMITTED in text or "NotPermitted" in text:
        return permission_denied(text)
    if sys.platform == "darwin" and ("Internal PortAudio error" in text or "host error" in text):
        # On macOS these two texts at open time are what a denied microphone permission looks like.
        return permission_denied(text)
    if "Error querying device -1" in text or "No input device" in text:
        return no_input_device(server_reachable)
    if "Invalid sample rate" in text or "Invalid number of channels" in text:
        return MicrophoneError(
            f"The input device '{device_name}' does not support the settings Tandem needs ({text}). "
            "Choose another input device.",
            UNSUPPORTED_DEVICE,
        )
    if "Device unavailable" in text or "Unanticipated host error" in text:
        return MicrophoneError(
            f"The input device '{device_name}' could not be opened ({text}). It may be in use by "
            "another program or disconnected. Close other recording programs or choose another "
            "input device.",
            PORTAUDIO_ERROR,
        )
    return MicrophoneError(
        f"Recording from '{device_name}' failed: {text}. Check the input device in your system's "
        "sound settings, or choose another one.",
        PORTAUDIO_ERROR,
    )
