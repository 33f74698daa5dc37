"""The virtual microphone for the voice benchmarks: scripts/virtual_mic.sh, started when needed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

MIC_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "virtual_mic.sh"


def ensure_virtual_mic() -> Callable[[], None]:
    """Start a PulseAudio null sink as the default input and output unless a server answers.

    Must run before sounddevice is imported (PortAudio lists devices once). Returns how to stop it.
    """
    if os.environ.get("XDG_RUNTIME_DIR") and subprocess.run(
        ["pactl", "info"], capture_output=True, check=False
    ).returncode == 0:
        return lambda: None
    runtime = tempfile.mkdtemp(prefix="tandem-bench-xdg-")
    os.environ["XDG_RUNTIME_DIR"] = runtime
    os.environ.pop("PULSE_SERVER", None)
    subprocess.run(["bash", str(MIC_SCRIPT), "start"], check=True, capture_output=True, timeout=30)

    def stop() -> None:
        subprocess.run(["bash", str(MIC_SCRIPT), "stop"], check=False, capture_output=True,
                       timeout=30)
        shutil.rmtree(runtime, ignore_errors=True)

    return stop


def play_into_sink(wav: Path) -> subprocess.Popen:
    """Play a WAV into the virtual sink, as a person talking into the microphone."""
    return subprocess.Popen(["paplay", "--device=vsink", str(wav)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


HEARD = 0.02  # -34 dBFS: espeak-ng's first syllable, well above the sink's digital silence


def first_loud_sample(recorder, heard_before: int) -> int | None:
    """Drain `recorder`; where its first sample above `HEARD` lies, counted from `heard_before` (the
    microphone's `samples_delivered` at the moment measured from), or None when all was quiet."""
    import numpy as np

    chunk = recorder.drain()
    loud = np.flatnonzero(np.abs(chunk) > HEARD)
    return None if not loud.size else recorder.samples_delivered - chunk.size + int(loud[0]) - heard_before
