"""from_portaudio: PortAudio's error texts become MicrophoneErrors a person can act on."""

from __future__ import annotations

import pytest

from app.audio import errors
from app.audio.errors import MicrophoneError, from_portaudio


@pytest.mark.parametrize(
    "text, server, reason, words",
    [
        ("Error querying device -1", True, errors.NO_INPUT_DEVICE, "No microphone was found"),
        ("Error querying device -1", False, errors.NO_AUDIO_SERVER, "No audio server"),
        (
            "Internal PortAudio error [PaErrorCode -9986]: ||PaMacCore (AUHAL)|| err='-66748'",
            True,
            errors.PERMISSION_DENIED,
            "Privacy & Security > Microphone",
        ),
        (
            "Invalid sample rate [PaErrorCode -9997]",
            True,
            errors.UNSUPPORTED_DEVICE,
            "Choose another",
        ),
        (
            "Device unavailable [PaErrorCode -9985]",
            True,
            errors.PORTAUDIO_ERROR,
            "in use by another",
        ),
        ("Something new [PaErrorCode -1]", True, errors.PORTAUDIO_ERROR, "Something new"),
    ],
)
def test_portaudio_texts_are_explained(text: str, server: bool, reason: str, words: str) -> None:
    error = from_portaudio(RuntimeError(text), "USB Mic", server_reachable=server)
    assert isinstance(error, MicrophoneError)
    assert error.reason == reason
    assert words in error.message


def test_device_lost_message_says_what_is_kept() -> None:
    error = errors.device_lost("USB Mic", 12.34)
    assert error.reason == errors.DEVICE_LOST
    assert "'USB Mic'" in str(error) and "12.3 s recorded" in str(error) and "kept" in str(error)
