"""engine.inputs.audio: framing against transformers' Gemma4UnifiedAudioFeatureExtractor, decoding
against the samples that were encoded (files written here with soundfile)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.inputs import audio as audio_module
from engine.inputs.audio import (
    MAX_AUDIO_TOKENS,
    SAMPLE_RATE,
    SAMPLES_PER_AUDIO_TOKEN,
    AudioError,
    audio_token_count,
    frame_audio,
    load_audio,
    split_audio,
)


def tone(
    freq: float, seconds: float, rate: int, amplitude: float = 0.5, phase: float = 0.0
) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t + phase)


def snr_db(signal: np.ndarray, estimate: np.ndarray) -> float:
    noise = np.sum((signal - estimate) ** 2)
    return float(10 * np.log10(np.sum(signal**2) / max(noise, 1e-30)))


def encode(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


# ---- framing -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_extractor():
    from transformers.models.gemma4_unified.feature_extraction_gemma4_unified import (
        Gemma4UnifiedAudioFeatureExtractor,
    )

    return Gemma4UnifiedAudioFeatureExtractor()


@pytest.mark.parametrize("length", [1, 639, 640, 641, 1279, 16_007, 480_000, 480_001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_frames_match_reference(reference_extractor, length: int, dtype):
    samples = np.random.default_rng(length).standard_normal(length).astype(dtype)
    ref = reference_extractor(samples, return_tensors="np")
    frames, mask = frame_audio(samples)
    assert frames.dtype == np.float32 and mask.dtype == np.bool_
    np.testing.assert_array_equal(frames, ref["input_features"][0])
    np.testing.assert_array_equal(mask, ref["input_features_mask"][0])
    assert frames.shape[0] == audio_token_count(length)


def test_framing_keeps_samples_and_pads_with_zeros():
    samples = np.arange(1, 1001, dtype=np.float32)
    frames, mask = frame_audio(samples)
    assert frames.shape == (2, SAMPLES_PER_AUDIO_TOKEN) and mask.all()
    np.testing.assert_array_equal(frames.reshape(-1)[:1000], samples)
    assert not frames.reshape(-1)[1000:].any()


def test_empty_and_bad_shapes():
    frames, mask = frame_audio(np.zeros(0, dtype=np.float32))
    assert frames.shape == (0, SAMPLES_PER_AUDIO_TOKEN) and mask.shape == (0,)
    with pytest.raises(ValueError, match="1-D mono"):
        frame_audio(np.zeros((2, 640), dtype=np.float32))


def test_constants():
    assert SAMPLES_PER_AUDIO_TOKEN == SAMPLE_RATE * 40 // 1000
    assert MAX_AUDIO_TOKENS * SAMPLES_PER_AUDIO_TOKEN == 30 * SAMPLE_RATE


@pytest.mark.parametrize(
    "n, tokens", [(0, 0), (1, 1), (640, 1), (641, 2), (480_000, 750), (480_001, 751)]
)
def test_audio_token_count(n: int, tokens: int):
    assert audio_token_count(n) == tokens


def test_audio_token_count_rejects_negative():
    with pytest.raises(ValueError, match=">= 0"):
        audio_token_count(-1)


@pytest.mark.parametrize("length", [0, 1, 480_000, 480_001, 1_000_000, 3 * 480_000])
def test_split_audio_covers_everything_within_budget(length: int):
    samples = np.random.default_rng(1).standard_normal(length).astype(np.float32)
    clips = split_audio(samples)
    assert len(clips) == -(-audio_token_count(length) // MAX_AUDIO_TOKENS)
    for clip in clips:
        assert 0 < audio_token_count(len(clip)) <= MAX_AUDIO_TOKENS
    for clip in clips[:-1]:  # only the last one is padded
        assert len(clip) == MAX_AUDIO_TOKENS * SAMPLES_PER_AUDIO_TOKEN
    joined = np.concatenate(clips) if clips else np.zeros(0, np.float32)
    np.testing.assert_array_equal(joined, samples)


def test_split_audio_smaller_budget_and_errors():
    clips = split_audio(np.ones(10 * 640 + 5, np.float32), max_tokens=4)
    assert [audio_token_count(len(c)) for c in clips] == [4, 4, 3]
    for bad in (0, -1, MAX_AUDIO_TOKENS + 1):
        with pytest.raises(ValueError, match="max_tokens must be between 1 and 750"):
            split_audio(np.ones(10, np.float32), max_tokens=bad)
    with pytest.raises(ValueError, match="1-D mono"):
        split_audio(np.ones((10, 2), np.float32))


# ---- decoding ----------------------------------------------------------------------------------

# Largest error of each PCM subtype, in full-scale units: half a quantization step, plus float slack.
PCM_TOLERANCE = {
    "PCM_U8": 1 / 128,
    "PCM_16": 1 / 32768,
    "PCM_24": 1 / 2**23,
    "PCM_32": 1e-7,
    "FLOAT": 0.0,
}


@pytest.mark.parametrize("subtype", list(PCM_TOLERANCE))
def test_wav_pcm_and_float_at_16k_is_exact_to_quantization(tmp_path: Path, subtype: str):
    samples = tone(440, 0.5, SAMPLE_RATE) + tone(3000, 0.5, SAMPLE_RATE, 0.2)
    path = tmp_path / f"{subtype}.wav"
    soundfile.write(path, samples, SAMPLE_RATE, subtype=subtype)
    decoded = load_audio(path)
    assert decoded.dtype == np.float32 and decoded.shape == samples.shape
    assert np.abs(decoded - samples).max() <= PCM_TOLERANCE[subtype] + 1e-7


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_to_16k(rate: int):
    """A real resampler: a 1 kHz tone comes out as a 1 kHz tone at 16 kHz, not aliased or shifted."""
    seconds = 1.0
    decoded = load_audio(encode(tone(1000, seconds, rate), rate, "WAV", "FLOAT"))
    assert abs(len(decoded) - seconds * SAMPLE_RATE) <= 1
    expected = tone(1000, len(decoded) / SAMPLE_RATE, SAMPLE_RATE)
    middle = slice(800, len(decoded) - 800)  # away from the filter's edges
    assert snr_db(expected[middle], decoded[middle]) > 60


def test_stereo_is_averaged(tmp_path: Path):
    left, right = tone(300, 0.5, SAMPLE_RATE), tone(700, 0.5, SAMPLE_RATE, 0.3)
    decoded = load_audio(encode(np.stack([left, right], axis=1), SAMPLE_RATE, "WAV", "FLOAT"))
    np.testing.assert_allclose(decoded, (left + right) / 2, atol=1e-6)


def test_six_channel_wav_is_downmixed_by_averaging(tmp_path: Path):
    """The documented recovery for 5.1 audio: every channel (LFE included) with equal weight."""
    channels = np.stack([tone(200 + 150 * c, 0.5, 48000, 0.15) for c in range(6)], axis=1)
    path = tmp_path / "surround.wav"
    soundfile.write(path, channels, 48000, subtype="PCM_24")
    decoded = load_audio(path)
    expected = load_audio(encode(channels.mean(axis=1), 48000, "WAV", "PCM_24"))
    assert decoded.shape == expected.shape == (8000,)
    np.testing.assert_allclose(decoded, expected, atol=1e-5)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_flac_is_lossless(subtype: str):
    samples = tone(440, 0.5, SAMPLE_RATE, 0.6)
    decoded = load_audio(encode(samples, SAMPLE_RATE, "FLAC", subtype))
    assert np.abs(decoded - samples).max() <= PCM_TOLERANCE[subtype] + 1e-7


def test_ogg_vorbis(tmp_path: Path):
    samples = tone(440, 1.0, 44100, 0.5)
    path = tmp_path / "clip.ogg"
    soundfile.write(path, samples, 44100, format="OGG", subtype="VORBIS")
    decoded = load_audio(path)
    expected = tone(440, len(decoded) / SAMPLE_RATE, SAMPLE_RATE, 0.5)
    assert abs(len(decoded) - SAMPLE_RATE) <= 2
    middle = slice(1600, len(decoded) - 1600)
    assert snr_db(expected[middle], decoded[middle]) > 30  # lossy codec (measured 41 dB)


def mp3_bytes(seconds: float = 2.0) -> tuple[bytes, np.ndarray]:
    samples = tone(440, seconds, 44100, 0.5)
    return encode(samples, 44100, "MP3", "MPEG_LAYER_III"), tone(440, seconds, SAMPLE_RATE, 0.5)


def test_mp3():
    data, expected = mp3_bytes()
    decoded = load_audio(data)
    assert abs(len(decoded) - len(expected)) <= 2  # encoder delay and padding removed
    middle = slice(1600, len(expected) - 1600)
    assert snr_db(expected[middle], decoded[middle]) > 40  # lossy, but a pure tone survives well


def test_mp3_through_the_fallback_decoder(monkeypatch):
    """Where libsndfile has no MP3 support, miniaudio decodes it."""

    def no_soundfile(data: bytes):
        raise RuntimeError("Format not recognised")

    monkeypatch.setattr(audio_module, "_decode_soundfile", no_soundfile)
    data, expected = mp3_bytes()
    decoded = load_audio(data)
    assert abs(len(decoded) - len(expected)) <= 2
    middle = slice(1600, len(expected) - 1600)
    assert snr_db(expected[middle], decoded[middle]) > 40


def test_mp3_with_a_broken_frame_decodes_what_decodes():
    """Documented recovery: the decoder resyncs and skips the broken frames; the rest is intact."""
    data, expected = mp3_bytes()
    broken = bytearray(data)
    middle = len(broken) // 2
    broken[middle : middle + 400] = bytes(400)
    decoded = load_audio(bytes(broken))
    assert 0.8 * len(expected) < len(decoded) < len(expected)  # about a tenth of a second is lost
    head = slice(1600, 8000)  # before the damage the audio is untouched
    assert snr_db(expected[head], decoded[head]) > 20


# ---- bad input ---------------------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(path)
    with pytest.raises(AudioError, match="empty"):
        load_audio(b"")


def test_text_file_named_wav(tmp_path: Path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all\n" * 50)
    with pytest.raises(
        AudioError, match=r"not a supported audio file \(WAV, MP3, FLAC, OGG/Vorbis\)"
    ):
        load_audio(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(AudioError, match="does not exist"):
        load_audio(tmp_path / "gone.mp3")


def test_wav_without_samples():
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(encode(np.zeros(0), SAMPLE_RATE, "WAV", "PCM_16"))


def test_float_wav_with_nan():
    samples = tone(440, 0.1, SAMPLE_RATE)
    samples[100] = np.nan
    with pytest.raises(AudioError, match="NaN or infinite"):
        load_audio(encode(samples, SAMPLE_RATE, "WAV", "FLOAT"))


def test_truncated_wav_decodes_its_prefix():
    data = encode(tone(440, 1.0, SAMPLE_RATE), SAMPLE_RATE, "WAV", "PCM_16")
    decoded = load_audio(data[: len(data) // 2])
    assert 0.45 * SAMPLE_RATE < len(decoded) <= 0.5 * SAMPLE_RATE + 1


def test_audio_error_is_a_value_error():
    assert issubclass(AudioError, ValueError)
