"""engine.session.voice_buffer: samples become 640-sample frames, the last one zero-padded at the end."""

import numpy as np
import pytest

from engine.inputs.audio import SAMPLES_PER_AUDIO_TOKEN
from engine.session.voice_buffer import VoiceBuffer


def test_frames_come_out_whole_and_in_order():
    buf = VoiceBuffer()
    samples = np.arange(3 * SAMPLES_PER_AUDIO_TOKEN + 100, dtype=np.float32)
    buf.add(samples[:1000])
    buf.add(samples[1000:][None])  # [1, n] is taken as mono
    assert buf.pending_frames(final=False) == 3 and buf.pending_frames(final=True) == 4
    frames = buf.take_frames(2, final=False)
    assert frames.shape == (2, SAMPLES_PER_AUDIO_TOKEN) and np.array_equal(frames.reshape(-1), samples[:1280])
    assert buf.take_frames(5, final=False).shape == (1, SAMPLES_PER_AUDIO_TOKEN)
    assert buf.take_frames(5, final=False) is None
    last = buf.take_frames(5, final=True)
    assert np.array_equal(last[0, :100], samples[-100:]) and not last[0, 100:].any()
    assert buf.take_frames(5, final=True) is None and buf.samples == samples.size
    buf.new_clip()
    assert buf.clips == 2 and buf.clip_tokens == 0


def test_bad_audio_is_refused():
    buf = VoiceBuffer()
    with pytest.raises(ValueError, match="mono"):
        buf.add(np.zeros((2, 10), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        buf.add(np.array([0.0, np.nan], np.float32))
