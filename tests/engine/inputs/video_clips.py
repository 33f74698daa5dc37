"""Made-up video clips for the video tests, written with PyAV (deterministic: one encoder thread).

Shared by tests/engine/inputs/test_video.py and make_video_reference.py (which runs in the reference
environment), so it needs only numpy and av. Each clip is a moving pattern: stripes and a square that
travel with the frame number, sharp enough that a wrong frame, shift or colour conversion shows.
"""

from __future__ import annotations

import fractions
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Clip:
    file: str
    width: int
    height: int
    frames: int
    codec: str = "libx264"
    rate: int | fractions.Fraction = 10
    pix_fmt: str = "yuv420p"
    durations_ms: tuple[int, ...] = ()  # variable frame rate: frame durations, cycled
    sound: str | None = None  # audio codec
    sound_rate: int = 44_100
    sound_layout: str = "stereo"
    rotation: int = 0
    options: dict = field(default_factory=dict)


SPEED = {"threads": "1", "preset": "veryfast"}
VP9 = {"threads": "1", "deadline": "good", "cpu-used": "5", "row-mt": "0"}

CLIPS = {
    # H.264 with B-frames and a keyframe every 12 frames, AAC stereo: seeking between keyframes.
    "h264_aac": Clip("h264_aac.mp4", 640, 360, 40, sound="aac",
                     options={**SPEED, "g": "12", "bf": "2"}),
    # VP9 at an odd size in WebM, no sound: odd chroma planes, a downscale.
    "vp9_odd": Clip("vp9_odd.webm", 333, 517, 45, codec="libvpx-vp9", rate=24, options=VP9),
    # Variable frame rate in WebM with Opus sound (mono, 48 kHz).
    "vfr_webm": Clip("vfr_webm.webm", 320, 240, 50, codec="libvpx-vp9",
                     durations_ms=(40, 120, 80, 20, 200), sound="libopus", sound_rate=48_000,
                     sound_layout="mono", options=VP9),
    # Variable frame rate in MP4 with B-frames.
    "vfr_mp4": Clip("vfr_mp4.mp4", 256, 144, 44, durations_ms=(50, 150, 100, 30),
                    options={**SPEED, "bf": "2"}),
    # A phone-like portrait clip: MOV, fewer frames than the sample count, stored sideways.
    "short_rotated": Clip("short_rotated.mov", 160, 96, 12, rotation=90, options=SPEED),
    # Full-range 4:2:2 MJPEG in AVI with 16-bit PCM sound at 8 kHz: every frame a keyframe.
    "mjpeg_pcm": Clip("mjpeg_pcm.avi", 250, 200, 36, codec="mjpeg", pix_fmt="yuvj422p",
                      sound="pcm_s16le", sound_rate=8000, sound_layout="mono"),
    # Two minutes at 1 frame per second: timestamps past the first minute.
    "two_minutes": Clip("two_minutes.mp4", 96, 64, 120, rate=1, options=SPEED),
}


def pattern(height: int, width: int, index: int) -> np.ndarray:
    """Frame `index` of the moving pattern as uint8 RGB."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack(
        [(x * 3 + index * 7) % 256, (y * 5 + index * 3) % 256, ((x + y) // 4 * 17 + index * 11) % 256],
        axis=-1,
    ).astype(np.uint8)
    img[((x + 4 * index) // 9) % 2 == 0] //= 2  # stripes that move right
    side = max(min(height, width) // 4, 4)
    top, left = (index * 5) % max(height - side, 1), (index * 9) % max(width - side, 1)
    img[top : top + side, left : left + side] = (240, 240, 30)
    return img


def tone(seconds: float, rate: int, channels: int) -> np.ndarray:
    """[channels, samples] float32: a different chirp per channel."""
    t = np.arange(int(round(seconds * rate))) / rate
    waves = [0.3 * np.sin(2 * np.pi * (300 + 100 * c) * t * (1 + 0.2 * t)) for c in range(channels)]
    return np.stack(waves).astype(np.float32)


def write_clip(clip: Clip, folder: Path) -> Path:
    """Write `clip` into `folder` and return its path."""
    path = Path(folder) / clip.file
    out = av.open(str(path), "w")
    video = out.add_stream(clip.codec, rate=clip.rate, options=dict(clip.options))
    video.width, video.height, video.pix_fmt = clip.width, clip.height, clip.pix_fmt
    if clip.durations_ms:
        video.time_base = video.codec_context.time_base = fractions.Fraction(1, 1000)
    if clip.rotation:
        video.set_display_rotation(clip.rotation)
    audio = None
    if clip.sound:
        audio = out.add_stream(clip.sound, rate=clip.sound_rate, layout=clip.sound_layout)
    pts = 0
    for i in range(clip.frames):
        frame = av.VideoFrame.from_ndarray(pattern(clip.height, clip.width, i), format="rgb24")
        frame = frame.reformat(format=clip.pix_fmt)
        frame.pts = pts
        pts += clip.durations_ms[i % len(clip.durations_ms)] if clip.durations_ms else 1
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode():
        out.mux(packet)
    if audio is not None:
        seconds = pts / 1000 if clip.durations_ms else float(clip.frames / clip.rate)
        _write_sound(out, audio, clip, seconds)
    out.close()
    return path


def _write_sound(out, audio, clip: Clip, seconds: float) -> None:
    channels = 1 if clip.sound_layout == "mono" else 2
    samples = tone(seconds, clip.sound_rate, channels)
    fmt = audio.codec_context.format.name
    step = audio.codec_context.frame_size or 1024
    for start in range(0, samples.shape[1], step):
        part = np.ascontiguousarray(samples[:, start : start + step])
        if fmt == "s16":
            data = (part.T * 32767).astype(np.int16).reshape(1, -1)
        elif fmt == "flt":
            data = part.T.reshape(1, -1)
        elif fmt == "s16p":
            data = (part * 32767).astype(np.int16)
        else:  # fltp
            data = part
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=clip.sound_layout)
        frame.sample_rate = clip.sound_rate
        frame.pts = start
        for packet in audio.encode(frame):
            out.mux(packet)
    for packet in audio.encode():
        out.mux(packet)
