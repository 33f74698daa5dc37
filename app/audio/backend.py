"""Lazy access to the sounddevice module (PortAudio), with its absence turned into a clear error.

`import sounddevice` loads the PortAudio shared library and lists the devices at import time; on a
machine without PortAudio it raises `OSError('PortAudio library not found')`. Nothing in app/audio
imports sounddevice at module level, so the app starts (and says why it cannot record) without it.
Callers that need a stand-in (tests, a future backend) pass a module-like object instead.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from app.audio.errors import no_portaudio


def load_sounddevice(override: Any | None = None) -> Any:
    """Return the sounddevice module, or `override` when one is given.

    Args:
        override: a module-like object with sounddevice's API (InputStream, query_devices, ...).

    Returns:
        The module to use.

    Raises:
        MicrophoneError: reason `no_portaudio` when sounddevice or PortAudio cannot be loaded.
    """
    if override is not None:
        return override
    try:
        module: ModuleType = importlib.import_module("sounddevice")
    except OSError as exc:  # "PortAudio library not found", or a broken libportaudio
        raise no_portaudio(str(exc)) from exc
    except ImportError as exc:
        raise no_portaudio(f"the Python package sounddevice is missing: {exc}") from exc
    return module
