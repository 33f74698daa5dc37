"""Listing and picking input devices, on MockSoundDevice's device list."""

from __future__ import annotations

import numpy as np
import pytest
from mock_sounddevice import MockSoundDevice

from app.audio.devices import (
    audio_server_reachable,
    list_input_devices,
    pick_input_device,
    refresh_devices,
)
from app.audio.errors import DEVICE_NOT_FOUND, NO_AUDIO_SERVER, NO_INPUT_DEVICE, MicrophoneError

SILENCE = np.zeros(16, np.float32)


class TwoMics(MockSoundDevice):
    """A speaker (0), a USB mic (1, default), a headset mic (2) and another USB mic (3)."""

    def query_devices(self, device=None, kind=None):
        base = dict(hostapi=0, max_output_channels=0, default_samplerate=48000.0)
        devices = (
            dict(base, name="Speakers", index=0, max_input_channels=0, max_output_channels=2),
            dict(base, name="USB Mic", index=1, max_input_channels=1),
            dict(
                base,
                name="Headset Microphone",
                index=2,
                max_input_channels=2,
                default_samplerate=44100.0,
            ),
            dict(base, name="USB Mic Pro", index=3, max_input_channels=1),
        )
        return devices if device is None else devices[device]


def test_lists_only_devices_that_record() -> None:
    devices = list_input_devices(TwoMics(SILENCE))
    assert [(d.index, d.name, d.is_default) for d in devices] == [
        (1, "USB Mic", True),
        (2, "Headset Microphone", False),
        (3, "USB Mic Pro", False),
    ]
    assert devices[1].default_samplerate == 44100.0 and devices[1].max_input_channels == 2
    assert devices[0].hostapi == "MockAPI"


def test_picks_default_index_and_name() -> None:
    sd = TwoMics(SILENCE)
    assert pick_input_device(None, sd).name == "USB Mic"
    assert pick_input_device(2, sd).name == "Headset Microphone"
    assert pick_input_device("usb mic", sd).index == 1  # an exact name wins over a longer one
    assert pick_input_device("headset", sd).index == 2  # a unique part of a name
    assert pick_input_device(" USB MIC PRO ", sd).index == 3


def test_no_default_falls_back_to_the_first_input() -> None:
    sd = TwoMics(SILENCE)
    sd.default.device = [-1, -1]
    assert pick_input_device(None, sd).index == 1


@pytest.mark.parametrize(
    "choice, text",
    [
        (0, "No input device has index 0"),
        (9, "index 9"),
        ("Webcam", "No input device is named 'Webcam'"),
        ("", "empty"),
        ("Mic", "matches several devices"),
    ],
)
def test_bad_choice_says_what_is_available(choice, text) -> None:
    with pytest.raises(MicrophoneError, match=text) as caught:
        pick_input_device(choice, TwoMics(SILENCE))
    assert caught.value.reason == DEVICE_NOT_FOUND
    if "several" not in text:
        assert "1: 'USB Mic'" in str(caught.value)


def test_wrong_choice_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="index"):
        pick_input_device(1.5, TwoMics(SILENCE))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pick_input_device(True, TwoMics(SILENCE))


def test_no_device_says_whether_the_audio_server_is_missing(tmp_path, monkeypatch) -> None:
    sd = MockSoundDevice(SILENCE, no_devices=True)
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    if audio_server_reachable():  # not Linux: the OS mixer is always there
        expected = NO_INPUT_DEVICE
    else:
        expected = NO_AUDIO_SERVER
    with pytest.raises(MicrophoneError) as caught:
        pick_input_device(None, sd)
    assert caught.value.reason == expected
    monkeypatch.setenv("PULSE_SERVER", "unix:/run/pulse/native")
    with pytest.raises(MicrophoneError, match="No microphone was found") as caught:
        pick_input_device(None, sd)
    assert caught.value.reason == NO_INPUT_DEVICE


def test_audio_server_socket_is_found(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    before = audio_server_reachable()
    (tmp_path / "pulse").mkdir()
    (tmp_path / "pulse" / "native").touch()
    assert audio_server_reachable()
    if before:
        pytest.skip("not Linux: the audio server is always reachable")


def test_refresh_finds_a_microphone_plugged_in_later() -> None:
    sd = MockSoundDevice(SILENCE, no_devices=True)
    assert list_input_devices(sd) == []
    devices = refresh_devices(sd)
    assert sd.reinitialised == 1
    assert [d.name for d in devices] == ["Mock Microphone"] and devices[0].is_default
