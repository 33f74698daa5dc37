"""Audio files to the model's 40 ms waveform frames.

Contract:
- `load_audio(source)` decodes WAV (PCM 8/16/24/32-bit and IEEE float), FLAC, OGG/Vorbis and MP3
  (libsndfile through soundfile; miniaudio as a fallback decoder) to mono float32 at 16 kHz.
  Multichannel audio (a 6-channel 5.1 WAV included) is downmixed by averaging all channels with
  equal weight; other rates are resampled with soxr (high quality). An MP3 with broken frames
  decodes what decodes: the decoder resyncs at the next good frame and the broken frames are
  skipped, so the clip comes out shorter by their length. Anything that cannot be decoded (missing,
  empty, not audio, no samples, non-finite samples) raises `AudioError` saying what is wrong.
- `frame_audio(samples)` equals transformers' `Gemma4UnifiedAudioFeatureExtractor` for one clip:
  zero-pad to a multiple of 640 samples, cut into [N, 640] frames, mask all True. No normalization
  (the model's embedder RMS-normalizes each frame).
- The model's audio budget is 750 tokens (30 s) per clip; the reference does not enforce it and a
  peer port silently truncates. Nothing here cuts audio: `split_audio` turns a long recording into
  consecutive clips of at most `max_tokens` frames each, and the app sends a long file as several
  clips in order (see shared/reference/gemma4_unified.md §5).
"""

from __future__ import annotations

import io
import math
import os
from typing import Union

import numpy as np

SAMPLE_RATE = 16_000  # the model hears 16 kHz mono
SAMPLES_PER_AUDIO_TOKEN = 640  # 40 ms at 16 kHz
MAX_AUDIO_TOKENS = 750  # the model's 30 s budget: 750 x 40 ms
MAX_AUDIO_SAMPLES = MAX_AUDIO_TOKENS * SAMPLES_PER_AUDIO_TOKEN  # 480,000 samples = 30 s

AudioSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


class AudioError(ValueError):
    """Audio that cannot be used: missing, empty, not a supported format, or without samples."""


def _describe(source: AudioSource) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"audio data ({len(source)} bytes)"
    return f"'{os.fspath(source)}'"


def _decode_soundfile(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples, int(rate)


def _decode_miniaudio(data: bytes) -> tuple[np.ndarray, int]:
    import miniaudio

    decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.FLOAT32)
    samples = np.asarray(decoded.samples, dtype=np.float32)
    return samples.reshape(-1, decoded.nchannels), int(decoded.sample_rate)


def load_audio(source: AudioSource) -> np.ndarray:
    """Decode an audio file or its bytes to mono float32 samples at 16 kHz.

    Args:
        source: a path, or the file's bytes.

    Returns:
        A 1-D float32 array at `SAMPLE_RATE`, roughly in [-1, 1].

    Raises:
        AudioError: the file is missing, empty, not WAV/MP3/FLAC/OGG, holds no samples, or holds
            NaN/infinite samples.
    """
    name = _describe(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise AudioError(f"{name} does not exist or is not a file")
        with open(path, "rb") as f:
            data = f.read()
    if not data:
        raise AudioError(f"{name} is empty (0 bytes)")

    errors = []
    samples = None
    for decode in (_decode_soundfile, _decode_miniaudio):
        try:
            samples, rate = decode(data)
            break
        except Exception as e:  # noqa: BLE001 (each decoder has its own errors: "not this one")
            # libsndfile's message names the BytesIO object; its bare error string is clearer.
            detail = getattr(e, "error_string", None) or str(e)
            errors.append(f"{decode.__name__.removeprefix('_decode_')}: {detail}")
    if samples is None:
        raise AudioError(
            f"{name} is not a supported audio file (WAV, MP3, FLAC, OGG/Vorbis) or is corrupt "
            f"({'; '.join(errors)})"
        )
    if samples.shape[0] == 0 or samples.shape[1] == 0:
        raise AudioError(f"{name} contains no audio samples")
    if not np.isfinite(samples).all():
        raise AudioError(f"{name} contains NaN or infinite samples")

    mono = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    return resample(mono, rate)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono float32 samples from `rate` Hz to 16 kHz with soxr (high quality).

    Args:
        samples: 1-D samples.
        rate: their sample rate in Hz.

    Returns:
        1-D float32 samples at `SAMPLE_RATE`.
    """
    if rate <= 0:
        raise AudioError(f"invalid sample rate {rate}")
    mono = np.ascontiguousarray(samples, dtype=np.float32)
    if rate == SAMPLE_RATE:
        return mono
    import soxr

    return np.asarray(soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ"), dtype=np.float32)


def audio_token_count(num_samples: int) -> int:
    """How many audio tokens `num_samples` 16 kHz samples take: one per started 40 ms frame."""
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    return math.ceil(num_samples / SAMPLES_PER_AUDIO_TOKEN)


def frame_audio(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut 16 kHz mono samples into the model's 640-sample frames.

    Args:
        samples: 1-D samples at `SAMPLE_RATE`.

    Returns:
        frames: [N, 640] float32, the last frame zero-padded; N = `audio_token_count(len(samples))`.
        mask: [N] bool, all True (batch padding, which would add False rows, is not done here).
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"frame_audio expects 1-D mono samples, got shape {samples.shape}")
    count = audio_token_count(samples.shape[0])
    frames = np.zeros((count, SAMPLES_PER_AUDIO_TOKEN), dtype=np.float32)
    frames.reshape(-1)[: samples.shape[0]] = samples
    return frames, np.ones(count, dtype=bool)


def split_audio(samples: np.ndarray, max_tokens: int = MAX_AUDIO_TOKENS) -> list[np.ndarray]:
    """Split a long clip into consecutive clips of at most `max_tokens` frames each.

    Every clip but the last is exactly `max_tokens * 640` samples, so only the last is zero-padded
    when framed; concatenating the clips gives back `samples`. An empty input gives no clips.

    Args:
        samples: 1-D samples at `SAMPLE_RATE`.
        max_tokens: frames per clip, 1 to `MAX_AUDIO_TOKENS`.

    Returns:
        The clips, as views into `samples`, in order.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"split_audio expects 1-D mono samples, got shape {samples.shape}")
    if not 1 <= max_tokens <= MAX_AUDIO_TOKENS:
        raise ValueError(f"max_tokens must be between 1 and {MAX_AUDIO_TOKENS}, got {max_tokens}")
    step = max_tokens * SAMPLES_PER_AUDIO_TOKEN
    return [samples[i : i + step] for i in range(0, samples.shape[0], step)]
