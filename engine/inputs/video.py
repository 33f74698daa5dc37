"""Video files to the model's frames: sampled, timestamped, cut into soft tokens, with their sound.

Contract:
- `read_video(source, num_frames=32, max_soft_tokens=70, sound=True, max_sound_seconds=120)` decodes
  an MP4 / MOV / WebM / MKV / AVI file (or its bytes) with PyAV and returns `VideoInputs`, equal to
  what transformers' `Gemma4UnifiedProcessor` makes of the same file with its default decoder
  (torchcodec, exact seek mode), shared/reference/gemma4_unified.md §4:
  - the frame list is the video stream's packets sorted by presentation time (`VideoFrames`);
    N frames, average fps = N / (end - start of the stream);
  - frames i * N // num_frames for i < num_frames are used, each shown at index / average fps
    ("mm:ss" in the prompt). A clip with fewer than `num_frames` frames uses every frame (the
    reference refuses such a clip);
  - each frame is turned upright (the stream's display rotation), converted to RGB as the reference
    does (bicubic chroma), resized like an image into `max_soft_tokens` 48x48 blocks, and scaled by
    dividing by 255 (the reference's fused normalize; images multiply by 1/255).
- Memory stays bounded whatever the clip's length: the stream is scanned once for timestamps
  without decoding, then only the stretch from the keyframe before each sampled frame is decoded,
  and each sampled frame is shrunk to its soft-token size at once. A 2-hour file costs one read of
  the file, 32 short decodes and 32 small frames.
- The sound: the first `max_sound_seconds` of the first audio stream, mixed to mono at 16 kHz with
  FFmpeg's resampler (as the reference's `load_audio` does for a video file). The reference puts a
  video's sound as one audio item right after the video (transformers 5.23.0
  `ProcessorMixin._multimodal_inputs_from_conversations` with `load_audio_from_video=True`); Tandem
  does the same, as consecutive clips of at most 30 s (`with_soundtracks`).
- Every failure (missing, empty, not a video, no picture, a codec FFmpeg cannot decode, damaged data,
  no frames) raises `VideoError` with a sentence saying what is wrong. A sound that cannot be decoded
  leaves the frames usable; `VideoInputs.summary` says so.
"""

from __future__ import annotations

import bisect
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from engine.inputs.audio import SAMPLE_RATE, split_audio
from engine.inputs.image import BLOCK_SIZE, PATCH_DIM, cut_into_blocks, resize_pixels, target_size

NUM_FRAMES = 32  # the reference's video_processor "num_frames"
VIDEO_SOFT_TOKENS = 70  # the reference's video_processor "max_soft_tokens" per frame
MAX_SOUND_SECONDS = 120.0  # 3,000 audio tokens: four 30 s clips
BOI, EOI, VIDEO_TOKEN = "<|image>", "<image|>", "<|video|>"
# FFmpeg's demuxers for single pictures (the *_pipe ones are refused as well).
STILL_FORMATS = {"image2", "png", "jpeg", "webp", "bmp", "tiff", "heif"}

VideoSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


class VideoError(ValueError):
    """A video that cannot be used: missing, empty, not a video, undecodable, or without frames."""


@dataclass(frozen=True)
class VideoInputs:
    """One preprocessed video.

    pixel_values: [frames, max_soft_tokens, 6912] float32 in [0, 1]; rows past `num_soft_tokens` are 0.
    position_ids: [frames, max_soft_tokens, 2] int32 (x, y) block positions; padding rows -1.
    num_soft_tokens: `<|video|>` tokens per frame.
    timestamps: seconds at which each sampled frame is shown, as the prompt states them.
    soundtrack: 16 kHz mono float32 samples (at most `max_sound_seconds`), or None.
    """

    pixel_values: np.ndarray
    position_ids: np.ndarray
    num_soft_tokens: int
    timestamps: tuple[float, ...]
    frame_indices: tuple[int, ...]
    total_frames: int
    fps: float
    duration: float
    width: int
    height: int
    soundtrack: np.ndarray | None = None
    sound_seconds: float = 0.0  # length of the file's sound, all of it
    sound_problem: str = ""  # why a sound the file has is not included

    @property
    def max_soft_tokens(self) -> int:
        return int(self.pixel_values.shape[1])

    @property
    def token_count(self) -> int:
        """Soft tokens of all frames together (the prompt adds a timestamp and 2 markers per frame)."""
        return len(self.timestamps) * self.num_soft_tokens

    def prompt_text(self) -> str:
        """What the reference processor puts in place of this video's `<|video|>` placeholder."""
        block = BOI + VIDEO_TOKEN * self.num_soft_tokens + EOI
        return " ".join(f"{clock(t)} {block}" for t in self.timestamps)

    def soundtrack_clips(self) -> list[np.ndarray]:
        """The sound as consecutive clips of at most 30 s (the model's audio budget per clip)."""
        return [] if self.soundtrack is None else split_audio(self.soundtrack)

    @property
    def summary(self) -> str:
        """How the clip was sampled, in one sentence a person can read."""
        frames = len(self.timestamps)
        if frames == 1 == self.total_frames:
            picture = f"the only frame of a {span(self.duration)} clip"
        elif frames == self.total_frames:
            picture = f"all {frames} frames of a {span(self.duration)} clip"
        else:
            step = self.duration / frames if frames else 0.0
            picture = (f"{frames} of {self.total_frames} frames, one every {span(step)}, "
                       f"of a {span(self.duration)} clip")
        if self.sound_problem:
            return f"{picture}; {self.sound_problem}"
        if self.soundtrack is None:
            return f"{picture}; no sound"
        heard = len(self.soundtrack) / SAMPLE_RATE
        if heard + 0.05 < self.sound_seconds:
            return f"{picture}; the first {span(heard)} of its {span(self.sound_seconds)} of sound"
        return f"{picture}, with its sound"


def clock(seconds: float) -> str:
    """The reference's "mm:ss" (minutes may pass 99, seconds are truncated)."""
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


def span(seconds: float) -> str:
    """A duration for people: "0.4 s", "12 s", "3:05", "2:00:00"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _describe(source: VideoSource) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"video data ({len(source)} bytes)"
    return f"'{os.fspath(source)}'"


def _file_of(source: VideoSource, name: str) -> Any:
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise VideoError(f"{name} is empty")
        return io.BytesIO(bytes(source))
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise VideoError(f"{name} does not exist or is not a file")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{name} is an empty file (0 bytes)")
    return path


def _open(source: VideoSource, name: str) -> Any:
    import av

    file = _file_of(source, name)
    try:
        return av.open(file, metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise VideoError(
            f"{name} is not a video Tandem can read (MP4, MOV, WebM, MKV, AVI) or it is damaged"
        ) from e


def open_video(source: VideoSource) -> tuple[Any, Any, str]:
    """(open container, its video stream, the name errors use); raises `VideoError` as `read_video`."""
    name = _describe(source)
    container = _open(source, name)
    try:
        return container, _video_stream(container, name), name
    except VideoError:
        container.close()
        raise


def _video_stream(container: Any, name: str) -> Any:
    formats = set(container.format.name.split(","))
    if formats & STILL_FORMATS or any(f.endswith("_pipe") for f in formats):
        raise VideoError(f"{name} is a still picture, not a video; send it as an image")
    if not container.streams.video:
        if container.streams.audio:
            raise VideoError(f"{name} has sound but no picture; send it as an audio file")
        raise VideoError(f"{name} holds no video track")
    stream = container.streams.video[0]
    codec = stream.codec_context
    if codec is None or codec.codec is None or not codec.codec.name:
        raise VideoError(f"{name} uses a video codec Tandem cannot decode")
    return stream


@dataclass(frozen=True)
class VideoFrames:
    """The video stream's frames, known from its packets without decoding them.

    pts: presentation times (stream time base) in display order; keyframes: those of keyframes;
    begin, end: seconds from the first frame's start to the end of the last one;
    header_fps: the container's stated average rate (used when begin == end).
    """

    pts: np.ndarray
    keyframes: np.ndarray
    begin: float
    end: float
    header_fps: float = 0.0

    @property
    def count(self) -> int:
        return int(self.pts.shape[0])

    @property
    def fps(self) -> float:
        """Average frames per second over the stream, as the reference computes it."""
        return self.count / (self.end - self.begin) if self.end > self.begin else self.header_fps


def scan_frames(container: Any, stream: Any) -> VideoFrames:
    """Read every packet of `stream` once (no decoding) and list its frames' timestamps."""
    import av

    pts = np.empty(4096, np.int64)
    keys: list[int] = []
    n, first, last = 0, None, None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            t = packet.pts if packet.pts is not None else packet.dts
            if t is None:
                continue
            if n == pts.shape[0]:
                pts = np.resize(pts, 2 * n)
            pts[n] = t
            n += 1
            if packet.is_keyframe:
                keys.append(t)
            first = t if first is None else min(first, t)
            stop = t + (packet.duration or 0)
            last = stop if last is None else max(last, stop)
    except av.FFmpegError:
        pass  # a damaged tail: the frames read so far are kept
    tb = stream.time_base

    def seconds(t: int | None) -> float:
        # Multiplying before dividing, as the reference's decoder does (same rounding).
        return float(t) * tb.numerator / tb.denominator if t is not None and tb else 0.0

    ordered = np.sort(pts[:n])
    if not keys and n:
        keys.append(int(ordered[0]))  # no flags: start decoding from the first frame
    rate = stream.average_rate
    return VideoFrames(pts=ordered, keyframes=np.array(sorted(keys), np.int64),
                       begin=seconds(first), end=seconds(last),
                       header_fps=float(rate) if rate else 0.0)


def sample_indices(total: int, num_frames: int) -> np.ndarray:
    """The reference's uniform sampling: i * total // num_frames (every frame if fewer)."""
    count = min(total, num_frames)
    return np.arange(count, dtype=np.int64) * total // count


def decode_frames_at(container: Any, stream: Any, frames: VideoFrames, targets: list[int],
               counter: list[int]) -> Iterator[Any]:
    """Yield the decoded frame at each target pts (ascending), decoding from the keyframe before it."""
    decoder = None
    position = None  # pts of the last decoded frame
    for target in targets:
        key = max(bisect.bisect_right(frames.keyframes, target) - 1, 0)
        if decoder is None or position is None or position >= target or (
            frames.keyframes[key] > position
        ):
            decoder, position = _seek(container, stream, int(frames.keyframes[key])), None
        found = None
        while found is None:
            frame = next(decoder, None)
            if frame is None:
                return  # the stream ended early: fewer frames than its packets promised
            counter[0] += 1
            t = frame.pts if frame.pts is not None else frame.dts
            if t is None:
                continue
            if position is None and t > target and key > 0:
                # The seek landed past the frame (an index that is off): start a keyframe earlier.
                key -= 1
                decoder = _seek(container, stream, int(frames.keyframes[key]))
                continue
            position = t
            if t >= target:
                found = frame
        yield found


def _seek(container: Any, stream: Any, pts: int) -> Iterator[Any]:
    container.seek(pts, stream=stream, backward=True, any_frame=False)
    return iter(container.decode(stream))


def _upright_rgb(frame: Any) -> np.ndarray:
    # Bicubic chroma upsampling is what the reference's decoder gives (checked bit-exact).
    rgb = frame.to_ndarray(format="rgb24", interpolation="BICUBIC")
    turns = int(round((frame.rotation or 0) / 90)) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _frame_blocks(rgb: np.ndarray, size: tuple[int, int], max_soft_tokens: int) -> Any:
    if rgb.shape[:2] != size:
        rgb = resize_pixels(rgb, *size)
    # The reference's fused rescale+normalize divides by 255 in float32.
    return cut_into_blocks(rgb.astype(np.float32) / np.float32(255), max_soft_tokens)


def read_video(
    source: VideoSource,
    *,
    num_frames: int = NUM_FRAMES,
    max_soft_tokens: int = VIDEO_SOFT_TOKENS,
    sound: bool = True,
    max_sound_seconds: float = MAX_SOUND_SECONDS,
    stats: dict | None = None,
) -> VideoInputs:
    """Decode, sample and preprocess a video file (see the module docstring).

    Args:
        source: a path, or the file's bytes.
        num_frames: the most frames to sample, spread evenly over the clip.
        max_soft_tokens: the soft-token budget of each frame, one of 70, 140, 280, 560, 1120.
        sound: whether to read the sound as well.
        max_sound_seconds: the most seconds of sound to read, from the start.
        stats: if given, receives "decoded_frames" (frames decoded to find the sampled ones).

    Raises:
        VideoError: the file cannot be used (the message says why).
        ValueError: `max_soft_tokens` or `num_frames` is out of range.
    """
    import av

    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    target_size(BLOCK_SIZE, BLOCK_SIZE, max_soft_tokens)  # checks the budget
    name = _describe(source)
    counter = [0]
    done = 0
    height = width = tokens = 0
    with _open(source, name) as container:
        stream = _video_stream(container, name)
        stream.thread_type = "AUTO"
        frames = scan_frames(container, stream)
        if frames.count == 0:
            raise VideoError(f"{name} has no video frames (a zero-length clip)")
        indices = sample_indices(frames.count, num_frames)
        targets = [int(frames.pts[i]) for i in indices]
        # Filled frame by frame, so no second copy of the frames is ever made.
        pixel_values = np.zeros((len(indices), max_soft_tokens, PATCH_DIM), np.float32)
        position_ids = np.full((len(indices), max_soft_tokens, 2), -1, np.int32)
        size = (0, 0)
        try:
            for frame in decode_frames_at(container, stream, frames, targets, counter):
                rgb = _upright_rgb(frame)
                if not done:  # every frame gets the first one's size (the reference stacks them)
                    height, width = rgb.shape[:2]
                    size = target_size(height, width, max_soft_tokens)
                block = _frame_blocks(rgb, size, max_soft_tokens)
                pixel_values[done], position_ids[done] = block.pixel_values, block.position_ids
                tokens, done = block.num_soft_tokens, done + 1
        except av.FFmpegError as e:
            if not done:
                raise VideoError(f"{name} could not be decoded: its video data is damaged") from e
        if not done:
            raise VideoError(f"{name} has no frames that decode")
        indices = indices[:done]  # a damaged tail: the frames before it are kept
        has_sound = bool(container.streams.audio)
    soundtrack, sound_seconds, problem = None, 0.0, ""
    if sound:
        soundtrack, sound_seconds, problem = read_soundtrack(source, max_sound_seconds)
    elif has_sound:
        problem = "its sound is left out"
    if stats is not None:
        stats["decoded_frames"] = counter[0]
    fps = frames.fps
    return VideoInputs(
        pixel_values=pixel_values[:done],
        position_ids=position_ids[:done],
        num_soft_tokens=int(tokens),
        timestamps=tuple(float(i / fps) if fps else 0.0 for i in indices),
        frame_indices=tuple(int(i) for i in indices),
        total_frames=frames.count,
        fps=fps,
        duration=frames.end - frames.begin,
        width=width,
        height=height,
        soundtrack=soundtrack,
        sound_seconds=sound_seconds,
        sound_problem=problem,
    )


def read_soundtrack(source: VideoSource, max_seconds: float = MAX_SOUND_SECONDS
                    ) -> tuple[np.ndarray | None, float, str]:
    """The first `max_seconds` of a file's first audio stream, mono float32 at 16 kHz.

    Returns:
        (samples or None when the file has no sound, the sound's full length in seconds when the
        container states it (else the length read), a sentence when the sound could not be read).
    """
    import av

    name = _describe(source)
    limit = int(round(max_seconds * SAMPLE_RATE))
    with _open(source, name) as container:
        if not container.streams.audio:
            return None, 0.0, ""
        stream = container.streams.audio[0]
        stated = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        have = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    have += chunks[-1].shape[0]
                if have >= limit:
                    break
            else:
                for out in resampler.resample(None):
                    chunks.append(out.to_ndarray().reshape(-1))
        except (av.FFmpegError, ValueError):
            if not chunks:
                return None, stated, "its sound could not be decoded, so only the picture is used"
        samples = np.concatenate(chunks)[:limit] if chunks else np.zeros(0, np.float32)
    if samples.shape[0] == 0:
        return None, 0.0, ""
    if not np.isfinite(samples).all():
        return None, stated, "its sound holds invalid samples and is left out"
    heard = samples.shape[0] / SAMPLE_RATE
    return samples.astype(np.float32, copy=False), max(stated, heard), ""



def with_soundtracks(content: Any, **read_options: Any) -> Any:
    """A message's content with each video read and its sound placed right after it.

    Each `{"type": "video", "video": path-or-bytes}` item becomes the same item holding its
    `VideoInputs`, followed by one `{"type": "audio", "audio": samples}` item per 30 s of its sound
    (the reference's place for a video's sound: right after the video). `"sound": False` on the item
    leaves the sound out. Other items, and videos already read, pass through unchanged; the input is
    not modified. A string content is returned as is.

    Raises:
        VideoError: a video cannot be used (nothing is returned, so nothing changes).
    """
    if isinstance(content, str) or content is None:
        return content
    out = []
    for item in content:
        if item.get("type") != "video" or isinstance(item.get("video"), VideoInputs):
            out.append(item)
            continue
        if item.get("video") is None:
            raise VideoError("a video item has no file (its \"video\" field is empty)")
        video = read_video(item["video"], sound=item.get("sound", True), **read_options)
        out.append({**item, "video": video})
        out.extend({"type": "audio", "audio": clip} for clip in video.soundtrack_clips())
    return out
