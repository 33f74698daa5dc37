"""Made-up audio for the voice benchmarks and tests: espeak-ng speech, pauses, fan and keyboard noise.

`utterance(i, noise)` is one spoken sentence with a 400 ms pause inserted at a word boundary in the
middle, 1 s of room before and 1.5 s after, over a noise track at 20 dB SNR (speech RMS to noise
RMS). `Truth` says where the speech starts, pauses and ends. `noise_only(kind, seconds)` is a room
with nobody talking. Everything is 16 kHz mono float32 and deterministic for a given index.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 16_000
PAUSE_S = 0.4  # the pause inside a sentence that must never end the turn
LEAD_S = 1.0  # room before the speech
TAIL_S = 1.5  # room after the speech: longer than any turn-end silence tested
SNR_DB = 20.0
NOISES = ("quiet", "fan", "keyboard")
SENTENCES = (
    ("I would like to know", "how the weather will be tomorrow"),
    ("Can you tell me", "what time the train leaves for the city"),
    ("Please write a short poem", "about the sea and the mountains"),
    ("The meeting starts", "at half past nine in the morning"),
    ("What is the difference between", "a list and a tuple in Python"),
    ("My favourite colour", "is green like the leaves in spring"),
    ("Remind me to buy", "milk and bread on the way home"),
    ("How many people live", "in the largest city of the world"),
    ("I think the answer", "depends on how you look at the problem"),
    ("Open the file", "and read the first ten lines to me"),
    ("Yesterday we walked", "along the river until it was dark"),
    ("Could you explain", "why the sky looks blue during the day"),
    ("The recipe needs", "two eggs and a cup of sugar"),
    ("Let me think about", "what I want to ask you next"),
    ("Translate this sentence", "into French and then into German"),
    ("The cat sleeps", "on the warm window sill all afternoon"),
    ("When does the shop", "close on Saturday evenings"),
    ("Summarise the story", "in three short sentences please"),
    ("Our team finished", "the project two days before the deadline"),
    ("Tell me a joke", "about a programmer and a rubber duck"),
)


@dataclass(frozen=True)
class Truth:
    """Sample positions in a scene: the speech, and the pause inside it."""

    speech_start: int
    pause_start: int
    pause_end: int
    speech_end: int


@dataclass(frozen=True)
class Scene:
    samples: np.ndarray = field(repr=False)
    truth: Truth | None  # None: nobody talks


def espeak(text: str, voice: str = "en-us", speed: int = 165) -> np.ndarray:
    """`text` spoken by espeak-ng at 16 kHz mono float32, silence at both ends trimmed."""
    import soundfile
    import soxr

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("the voice benchmarks need espeak-ng (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="tandem-scene-") as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text],
            check=True, timeout=60, capture_output=True,
        )
        samples, rate = soundfile.read(wav, dtype="float32")
    samples = soxr.resample(samples, rate, RATE).astype(np.float32)
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def noise(kind: str, n: int, rms: float, seed: int) -> np.ndarray:
    """`n` samples of room noise with the given RMS: "quiet" (hiss), "fan" or "keyboard"."""
    rng = np.random.default_rng(seed)
    if kind == "quiet":
        track = rng.standard_normal(n)
    elif kind == "fan":
        track = _fan(rng, n)
    elif kind == "keyboard":
        track = _keyboard(rng, n)
    else:
        raise ValueError(f"unknown noise {kind!r}; choose from {NOISES}")
    track = track / max(float(np.sqrt(np.mean(track**2))), 1e-12)
    return (rms * track).astype(np.float32)


def _fan(rng: np.random.Generator, n: int) -> np.ndarray:
    """Low-frequency rumble (pink-ish noise) with a motor hum and a blade tone that wobbles."""
    white = rng.standard_normal(n)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))  # 1/f power
    spectrum[freqs > 4_000] *= 0.1
    rumble = np.fft.irfft(spectrum, n)
    rumble /= np.sqrt(np.mean(rumble**2))
    t = np.arange(n) / RATE
    wobble = 1 + 0.2 * np.sin(2 * np.pi * 0.7 * t)
    hum = 0.3 * np.sin(2 * np.pi * 100 * t) + 0.15 * np.sin(2 * np.pi * 200 * t)
    blade = 0.25 * wobble * np.sin(2 * np.pi * 240 * t + 0.5 * np.sin(2 * np.pi * 0.3 * t))
    return rumble + hum + blade


def _keyboard(rng: np.random.Generator, n: int) -> np.ndarray:
    """Key clicks: short decaying bursts of bright noise, about 7 a second at uneven intervals."""
    track = 1e-3 * rng.standard_normal(n)
    at = int(rng.uniform(0, 0.1) * RATE)
    while at < n:
        length = int(rng.uniform(0.008, 0.025) * RATE)
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.004 * RATE))
        burst = np.diff(burst, prepend=0.0)  # clicks are bright
        burst *= rng.uniform(0.4, 1.0)
        end = min(n, at + length)
        track[at:end] += burst[: end - at]
        at += int(rng.gamma(2.0, 0.07) * RATE) + int(0.03 * RATE)
    return track


def speech_rms(speech: np.ndarray) -> float:
    """RMS over the voiced part (20 ms frames within 30 dB of the loudest), as SNR is meant."""
    frames = speech[: speech.size // 320 * 320].reshape(-1, 320)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
    voiced = energy > energy.max() * 1e-3
    return float(np.sqrt(np.mean(energy[voiced])))


def utterance(index: int, kind: str = "quiet", snr_db: float = SNR_DB) -> Scene:
    """Sentence `index` with a 400 ms pause in the middle, over `kind` noise at `snr_db`."""
    first, second = SENTENCES[index % len(SENTENCES)]
    a, b = espeak(first), espeak(second)
    lead, pause, tail = (np.zeros(round(s * RATE), np.float32) for s in (LEAD_S, PAUSE_S, TAIL_S))
    speech = np.concatenate([lead, a, pause, b, tail])
    truth = Truth(
        speech_start=lead.size,
        pause_start=lead.size + a.size,
        pause_end=lead.size + a.size + pause.size,
        speech_end=lead.size + a.size + pause.size + b.size,
    )
    level = speech_rms(np.concatenate([a, b]))
    room = noise(kind, speech.size, level / 10 ** (snr_db / 20), seed=1_000 + index)
    return Scene(np.clip(speech + room, -1, 1), truth)


def noise_only(kind: str, seconds: float, rms_dbfs: float = -40.0, seed: int = 7) -> Scene:
    """A room where nobody talks; "silence" is digital zero."""
    n = round(seconds * RATE)
    if kind == "silence":
        return Scene(np.zeros(n, np.float32), None)
    return Scene(noise(kind, n, 10 ** (rms_dbfs / 20), seed), None)
