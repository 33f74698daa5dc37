"""engine.inputs.video against the reference video processor (fixtures from make_video_reference.py),
bad files, a two-hour clip, the sound budget and the soundtrack's place in a message."""

from __future__ import annotations

import fractions
import hashlib

import av
import numpy as np
import pytest
import soundfile as sf
from make_video_reference import content_sha
from PIL import Image
from video_clips import CLIPS, Clip, write_clip

from engine.inputs.audio import SAMPLE_RATE
from engine.inputs.video import (
    VideoError,
    VideoInputs,
    clock,
    read_video,
    span,
    with_soundtracks,
)

# MP4 with B-frames and a variable frame rate: FFmpeg 8.1 (in PyAV's wheels) gives the last packets
# other durations than FFmpeg 5.1 (under the reference's torchcodec), so the stream's end, and with it
# the average fps, differs (3.7 s vs 3.6 s here). Frames and pixels are still the same.
FPS_TOLERANCE = {"vfr_mp4": 0.03}


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_matches_reference(name, video_clips, video_reference):
    path, ref = video_clips[name], video_reference[name]
    assert content_sha(path) == str(ref["clip_sha"]), (
        "the clip generator now writes other pictures; run make_video_reference.py again"
    )
    ours = read_video(path)
    assert ours.total_frames == int(ref["total_frames"])
    assert list(ours.frame_indices) == ref["frame_indices"].tolist()
    tolerance = FPS_TOLERANCE.get(name, 1e-12)
    assert ours.fps == pytest.approx(float(ref["fps"]), rel=tolerance)
    np.testing.assert_allclose(ours.timestamps, ref["timestamps"], rtol=tolerance)
    if name not in FPS_TOLERANCE:  # else a timestamp near a whole second may show the next one
        assert [clock(t) for t in ours.timestamps] == [clock(t) for t in ref["timestamps"]]
    assert (ours.width, ours.height) == (int(ref["width"]), int(ref["height"]))
    assert ours.num_soft_tokens == int(ref["num_soft_tokens"])
    frames = len(ref["frame_indices"])
    assert ours.pixel_values.shape == (frames, 70, 6912) and ours.pixel_values.dtype == np.float32
    assert ours.position_ids.dtype == np.int32
    np.testing.assert_array_equal(ours.position_ids, ref["position_ids"])
    levels = np.rint(ours.pixel_values * 255).astype(np.uint8)
    # The reference divides by 255 in float32; multiplying by 1/255 would differ in the last bit.
    np.testing.assert_array_equal(levels.astype(np.float32) / np.float32(255), ours.pixel_values)
    rows = ref["diagnosis_rows"]
    np.testing.assert_array_equal(levels[0, rows], ref["first_rows"])
    np.testing.assert_array_equal(levels[-1, rows], ref["last_rows"])
    assert hashlib.sha256(levels.tobytes()).hexdigest() == str(ref["levels_sha"])
    if "sound_length" in ref:
        assert ours.soundtrack.dtype == np.float32
        assert ours.soundtrack.shape == (int(ref["sound_length"]),)
        np.testing.assert_allclose(ours.soundtrack[::16], ref["sound_every_16th"], atol=1e-6)
        assert ours.summary.endswith("with its sound")
    else:
        assert ours.soundtrack is None and ours.summary.endswith("no sound")


def test_rotated_clip_is_upright_and_short_clip_uses_every_frame(video_clips):
    ours = read_video(video_clips["short_rotated"])  # stored 160 x 96, shown turned 90 degrees
    assert (ours.width, ours.height) == (96, 160)
    assert ours.frame_indices == tuple(range(12))
    assert ours.summary == "all 12 frames of a 1.2 s clip; no sound"


def test_bytes_give_what_the_file_gives(video_clips):
    path = video_clips["vfr_webm"]
    from_file, from_bytes = read_video(path), read_video(path.read_bytes())
    np.testing.assert_array_equal(from_bytes.pixel_values, from_file.pixel_values)
    np.testing.assert_array_equal(from_bytes.soundtrack, from_file.soundtrack)
    assert from_bytes.timestamps == from_file.timestamps


def test_decodes_only_near_the_sampled_frames(tmp_path):
    """A two-hour clip (one frame every 4 s, a keyframe every 25): 32 frames, read in bounded work."""
    clip = Clip("two_hours.mp4", 64, 48, 1800, rate=fractions.Fraction(1, 4),
                options={"threads": "1", "preset": "ultrafast", "g": "25"})
    stats: dict = {}
    ours = read_video(write_clip(clip, tmp_path), stats=stats)
    assert ours.total_frames == 1800 and ours.duration == pytest.approx(7200)
    assert len(ours.timestamps) == 32 and ours.frame_indices[-1] == 31 * 1800 // 32
    assert clock(ours.timestamps[-1]) == "116:12"  # the reference's mm:ss lets minutes pass 59
    # Each sampled frame is at most 24 frames past a keyframe: far less than the whole clip.
    assert 32 <= stats["decoded_frames"] <= 32 * 25 < 1800
    assert ours.summary == "32 of 1800 frames, one every 3:45, of a 2:00:00 clip; no sound"


@pytest.fixture(scope="module")
def three_minutes_with_sound(tmp_path_factory):
    """Three minutes: a frame every 2 s, 16-bit PCM sound at 8 kHz in Matroska."""
    clip = Clip("three_minutes.mkv", 64, 48, 90, rate=fractions.Fraction(1, 2), sound="pcm_s16le",
                sound_rate=8000, sound_layout="mono", options={"threads": "1", "preset": "ultrafast"})
    return write_clip(clip, tmp_path_factory.mktemp("long"))


def test_sound_past_the_budget_is_cut_and_said(three_minutes_with_sound):
    ours = read_video(three_minutes_with_sound)
    assert ours.soundtrack.shape == (120 * SAMPLE_RATE,)
    assert ours.sound_seconds == pytest.approx(180, abs=0.1)
    assert [len(c) for c in ours.soundtrack_clips()] == [30 * SAMPLE_RATE] * 4
    assert ours.summary.endswith("; the first 2:00 of its 3:00 of sound")
    shorter = read_video(three_minutes_with_sound, max_sound_seconds=45)
    assert [len(c) / SAMPLE_RATE for c in shorter.soundtrack_clips()] == [30, 15]
    silent = read_video(three_minutes_with_sound, sound=False)
    assert silent.soundtrack is None and silent.summary.endswith("; its sound is left out")


def test_sound_goes_right_after_its_video(three_minutes_with_sound, video_clips):
    content = [
        {"type": "text", "text": "Compare"},
        {"type": "video", "video": str(three_minutes_with_sound)},
        {"type": "video", "video": video_clips["two_minutes"]},  # no sound
        {"type": "video", "video": video_clips["h264_aac"], "sound": False},
        {"type": "text", "text": "these."},
    ]
    original = [dict(item) for item in content]
    out = with_soundtracks(content)
    assert [c["type"] for c in out] == ["text", "video"] + ["audio"] * 4 + ["video", "video", "text"]
    assert content == original  # the caller's list is left as it was
    assert all(isinstance(c["video"], VideoInputs) for c in out if c["type"] == "video")
    assert out[7]["video"].soundtrack is None and out[7]["video"].sound_problem
    np.testing.assert_array_equal(out[2]["audio"], out[1]["video"].soundtrack[: 30 * SAMPLE_RATE])
    assert with_soundtracks(out) == out  # videos already read pass through
    assert with_soundtracks("just text") == "just text"


def _zero_length_clip(path):
    """A Matroska file with a video stream that holds no frame, and a little sound."""
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=10)
    video.width, video.height = 64, 48
    audio = out.add_stream("pcm_s16le", rate=8000, layout="mono")
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
    frame.sample_rate, frame.pts = 8000, 0
    for packet in audio.encode(frame):
        out.mux(packet)
    for packet in list(audio.encode()) + list(video.encode()):
        out.mux(packet)
    out.close()


def _bad_file(kind: str, tmp_path, video_clips):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("This is a note, not a video.\n" * 50)
    elif kind == "picture":
        path = tmp_path / "picture.png"
        Image.new("RGB", (64, 48), (10, 20, 30)).save(path)
    elif kind == "sound_only":
        path = tmp_path / "tone.wav"
        sf.write(path, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    elif kind == "unknown_codec":  # an AVI whose video codec tag no decoder knows
        data = video_clips["mjpeg_pcm"].read_bytes()
        path = tmp_path / "unknown.avi"
        path.write_bytes(data.replace(b"MJPG", b"QQQQ"))
    elif kind == "zero_length":
        path = tmp_path / "zero.mkv"
        _zero_length_clip(path)
    elif kind == "cut_in_half":  # an MP4 whose index (at its end) is gone
        data = video_clips["h264_aac"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "does not exist or is not a file"),
        ("empty", "is an empty file"),
        ("text", "is not a video Tandem can read .* or it is damaged"),
        ("picture", "is a still picture, not a video; send it as an image"),
        ("sound_only", "has sound but no picture; send it as an audio file"),
        ("unknown_codec", "uses a video codec Tandem cannot decode"),
        ("zero_length", "has no video frames \\(a zero-length clip\\)"),
        ("cut_in_half", "is not a video Tandem can read"),
    ],
)
def test_bad_files_are_clear_errors(kind, message, tmp_path, video_clips):
    path = _bad_file(kind, tmp_path, video_clips)
    with pytest.raises(VideoError, match=message) as caught:
        read_video(path)
    text = str(caught.value)
    assert text.startswith(f"'{path}'")
    assert "Errno" not in text and "Invalid data" not in text and "av." not in text
    with pytest.raises(VideoError, match=message):
        with_soundtracks([{"type": "video", "video": str(path)}])


def test_damaged_tail_keeps_the_frames_before_it(video_clips):
    data = video_clips["vfr_webm"].read_bytes()
    ours = read_video(data[: len(data) // 2])
    assert 0 < ours.total_frames < 50 and len(ours.timestamps) == ours.total_frames
    assert ours.pixel_values.shape[0] == ours.total_frames


def test_bad_arguments_and_items(video_clips):
    with pytest.raises(ValueError, match="max_soft_tokens must be one of"):
        read_video(video_clips["two_minutes"], max_soft_tokens=100)
    with pytest.raises(ValueError, match="num_frames must be at least 1"):
        read_video(video_clips["two_minutes"], num_frames=0)
    with pytest.raises(VideoError, match="has no file"):
        with_soundtracks([{"type": "video"}])
    with pytest.raises(VideoError, match="video data \\(0 bytes\\) is empty"):
        read_video(b"")


def test_other_budgets_and_frame_counts(video_clips):
    ours = read_video(video_clips["h264_aac"], num_frames=8, max_soft_tokens=280, sound=False)
    assert ours.pixel_values.shape == (8, 280, 6912)
    assert ours.frame_indices == tuple(i * 40 // 8 for i in range(8))
    assert ours.num_soft_tokens == 22 * 12  # 640 x 360 scaled up to 1056 x 576
    assert ours.prompt_text().count("<|video|>") == 8 * 264


def test_clock_and_span():
    assert [clock(s) for s in (0, 59.99, 60, 3599.5, 7000)] == [
        "00:00", "00:59", "01:00", "59:59", "116:40"]
    assert [span(s) for s in (0.04, 9.96, 12.4, 61, 3725)] == [
        "0.0 s", "10.0 s", "12 s", "1:01", "1:02:05"]


class _Frame:
    def __init__(self, pts):
        self.pts, self.dts = pts, pts


class _Container:
    """Frames 0..29 with keyframes every 10; the first seek lands one keyframe too late."""

    def __init__(self, late: bool):
        self.late, self.seeks, self.start = late, [], 0

    def seek(self, pts, stream, backward, any_frame):
        self.seeks.append(pts)
        self.start = pts + 10 if self.late and len(self.seeks) == 1 else pts

    def decode(self, stream):
        return (_Frame(t) for t in range(self.start, 30))


@pytest.mark.parametrize("late", [False, True])
def test_frames_are_found_even_when_a_seek_lands_late(late):
    from engine.inputs.video import VideoFrames, decode_frames_at

    frames = VideoFrames(pts=np.arange(30), keyframes=np.array([0, 10, 20]), begin=0.0, end=3.0)
    container, counter = _Container(late), [0]
    found = [f.pts for f in decode_frames_at(container, None, frames, [15, 16, 25], counter)]
    assert found == [15, 16, 25]
    # Late: the seek to 10 gives frame 20 first, so decoding starts again from keyframe 0.
    assert container.seeks == ([10, 20] if not late else [10, 0, 20])
    assert counter[0] == (6 + 1 + 6 if not late else 1 + 16 + 1 + 6)
