"""engine.inputs.video_probe: what a person is told about a clip before it is sent agrees with read_video."""

from __future__ import annotations

import fractions

import pytest
from video_clips import Clip, write_clip

from engine.inputs.video import VideoError, read_video
from engine.inputs.video_probe import probe_video


def test_a_clip_with_sound_is_described_as_read_video_takes_it(video_clips):
    path = video_clips["h264_aac"]  # 40 frames in 4 s, with sound
    probe, whole = probe_video(path), read_video(path)
    assert probe.total_frames == whole.total_frames and probe.duration == pytest.approx(whole.duration)
    assert probe.sound_seconds == pytest.approx(whole.sound_seconds, abs=0.1)
    assert probe.is_cut and probe.sampling == "32 frames from 4.0 s, sound 4.0 s"
    assert probe.thumbnail.dtype.name == "uint8" and probe.thumbnail.shape == (36, 64, 3)


def test_a_short_clip_is_taken_whole(video_clips):
    path = video_clips["short_rotated"]  # 12 frames, no sound
    probe, whole = probe_video(path), read_video(path)
    assert probe.total_frames == len(whole.timestamps) == 12
    assert not probe.is_cut and probe.sampling == f"all 12 frames of {probe.duration:.1f} s, no sound"
    assert probe.thumbnail.shape[:2] == (64, 38)  # turned upright: a 160x96 picture shown rotated 90°


def test_a_long_clip_with_long_sound_says_what_is_kept(tmp_path):
    clip = Clip("three_minutes.mkv", 64, 48, 90, rate=fractions.Fraction(1, 2), sound="pcm_s16le",
                sound_rate=8000, sound_layout="mono", options={"threads": "1", "preset": "ultrafast"})
    probe = probe_video(write_clip(clip, tmp_path))
    assert probe.is_cut
    assert probe.sampling == "32 frames from 3:00, sound 2:00 of 3:00"
    assert len(read_video(write_clip(clip, tmp_path)).timestamps) == 32


def test_not_a_video_is_the_same_clear_error(tmp_path):
    path = tmp_path / "note.mp4"
    path.write_text("This is a note, not a video.\n" * 50)
    with pytest.raises(VideoError, match="is not a video Tandem can read"):
        probe_video(path)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="is an empty file"):
        probe_video(empty)
