"""Input devices: list them, and pick one by name, index or "the system default".

`list_input_devices()` reads PortAudio's device list (through sounddevice) and keeps the devices
that can record. `pick_input_device(choice)` turns the user's setting into one `InputDevice`:
None means the system default input, an int is a PortAudio device index, a str is a device name
(exact match first, case-insensitive, then a unique substring). Every failure is a
`MicrophoneError` whose message lists what is available.

PortAudio reads the device list once, when sounddevice is imported: a device plugged in later
(on Linux, also a newly started audio server) appears after `refresh_devices()`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.audio.backend import load_sounddevice
from app.audio.errors import DEVICE_NOT_FOUND, MicrophoneError, no_input_device
from app.audio.playback import close_all_players


@dataclass(frozen=True)
class InputDevice:
    """One device that can record, as PortAudio lists it."""

    index: int
    name: str
    default_samplerate: float
    max_input_channels: int
    hostapi: str
    is_default: bool


def audio_server_reachable() -> bool:
    """Whether a sound server socket exists, so "no devices" means "no microphone", not "no server".

    On macOS and Windows the OS mixer is always there. On Linux, PortAudio (ALSA host API) reaches
    PulseAudio or PipeWire through the ALSA `pulse` plugin, which shows devices only while the
    server's socket under $XDG_RUNTIME_DIR (or $PULSE_SERVER) is there.
    """
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("PULSE_SERVER"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        return False
    run = Path(runtime)
    return (run / "pulse" / "native").exists() or (run / "pipewire-0").exists()


def list_input_devices(sounddevice: Any | None = None) -> list[InputDevice]:
    """All devices with at least one input channel, in PortAudio's order.

    Args:
        sounddevice: a stand-in for the sounddevice module (tests); the real one when None.

    Raises:
        MicrophoneError: reason `no_portaudio` when PortAudio cannot be loaded.
    """
    sd = load_sounddevice(sounddevice)
    default_index = _default_input_index(sd)
    hostapis = [api["name"] for api in sd.query_hostapis()]
    found = []
    for index, info in enumerate(sd.query_devices()):
        if info["max_input_channels"] < 1:
            continue
        api = info["hostapi"]
        found.append(
            InputDevice(
                index=index,
                name=str(info["name"]),
                default_samplerate=float(info["default_samplerate"]),
                max_input_channels=int(info["max_input_channels"]),
                hostapi=hostapis[api] if 0 <= api < len(hostapis) else "",
                is_default=index == default_index,
            )
        )
    return found


def pick_input_device(
    choice: int | str | None = None, sounddevice: Any | None = None
) -> InputDevice:
    """The device to record from.

    Args:
        choice: None for the system default input, a PortAudio index, or a device name.
        sounddevice: a stand-in for the sounddevice module (tests); the real one when None.

    Returns:
        The chosen `InputDevice`.

    Raises:
        MicrophoneError: no input device at all (or no audio server), or nothing matches `choice`.
        TypeError: `choice` is not None, an int or a str.
    """
    if choice is not None and (isinstance(choice, bool) or not isinstance(choice, (int, str))):
        raise TypeError(f"an input device is chosen by index (int) or name (str), not {choice!r}")
    devices = list_input_devices(sounddevice)
    if not devices:
        raise no_input_device(audio_server_reachable())
    if choice is None:
        # PortAudio may report no default (-1) while inputs exist; the first one is then the best guess.
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(choice, int):
        for device in devices:
            if device.index == choice:
                return device
        raise _not_found(f"No input device has index {choice}.", devices)
    wanted = choice.strip().casefold()
    if not wanted:
        raise _not_found("The input device name is empty.", devices)
    exact = [d for d in devices if d.name.casefold() == wanted]
    if exact:
        return exact[0]
    partial = [d for d in devices if wanted in d.name.casefold()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(f"'{d.name}'" for d in partial)
        raise MicrophoneError(
            f"The input device name '{choice}' matches several devices ({names}). Use the full name.",
            DEVICE_NOT_FOUND,
        )
    raise _not_found(f"No input device is named '{choice}'.", devices)


def refresh_devices(sounddevice: Any | None = None) -> list[InputDevice]:
    """Re-read the device list (a microphone plugged in, an audio server started) and return it.

    PortAudio has no public re-scan; sounddevice's `_terminate()`/`_initialize()` pair is the way
    (it invalidates open streams: call it only while nothing records; the speakers' streams are
    closed first).

    Raises:
        MicrophoneError: reason `no_portaudio` when PortAudio cannot be loaded.
    """
    sd = load_sounddevice(sounddevice)
    if sounddevice is None:
        close_all_players()
    sd._terminate()
    sd._initialize()
    return list_input_devices(sd)


def _default_input_index(sd: Any) -> int:
    index = sd.default.device[0]
    if isinstance(index, str):  # someone set sd.default.device by name
        return int(sd.query_devices(index)["index"])
    return int(index) if index is not None else -1


def _not_found(first: str, devices: list[InputDevice]) -> MicrophoneError:
    names = ", ".join(f"{d.index}: '{d.name}'" for d in devices)
    return MicrophoneError(
        f"{first} The input devices are: {names}. Choose one of them in Settings.", DEVICE_NOT_FOUND
    )
