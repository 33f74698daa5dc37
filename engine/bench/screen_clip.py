"""A made-up screen recording for the video figures: H.264 (a keyframe every 2 s) + AAC narration, MP4.

It looks like a screen: a light desktop, a window with lines of "text" that scroll, a progress bar, a
moving pointer and a box that animates (the kind of thing people record to ask "why does this stutter?").
The file is written once per size into the temp folder and reused by both sides and every repetition;
writing it is never part of a timing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

SOUND_RATE = 48_000


def screen_recording(seconds: float, width: int, height: int, fps: int) -> Path:
    """The path of the clip with these parameters, written first if it is not there yet."""
    folder = Path(tempfile.gettempdir()) / "tandem-bench"
    folder.mkdir(exist_ok=True)
    path = folder / f"screen_{width}x{height}_{fps}fps_{seconds:g}s.mp4"
    if not path.exists():
        partial = path.with_name(f"{path.stem}.{os.getpid()}.part.mp4")
        _write(partial, seconds, width, height, fps)
        partial.replace(path)
    return path


def _frame(base: np.ndarray, i: int, fps: int) -> np.ndarray:
    height, width, _ = base.shape
    img = base.copy()
    line = max(height // 40, 4)
    top, left, bottom, right = height // 8, width // 8, height * 7 // 8, width * 5 // 8
    scroll = (i * line // 4) % (4 * line)
    for y in range(top + line - scroll, bottom - line, 2 * line):  # scrolling "text" lines
        if y > top:
            length = (right - left) * (5 + (y // line) % 4) // 9
            img[y : y + line // 2, left + line : left + length] = 60
    progress = int((right - left) * ((i / fps) % 10) / 10)
    img[bottom - line : bottom, left : left + progress] = (40, 120, 220)
    box = max(height // 10, 8)
    x = int((width * 7 // 10) + (width // 5 - box) * (0.5 + 0.5 * np.sin(i / fps * 3)))
    img[height // 3 : height // 3 + box, x : x + box] = (230, 80, 40)
    py, px = (i * 7) % (height - 12), (i * 11) % (width - 12)
    img[py : py + 12, px : px + 3] = 0  # the pointer
    img[py : py + 3, px : px + 12] = 0
    return img


def _write(path: Path, seconds: float, width: int, height: int, fps: int) -> None:
    import av

    base = np.full((height, width, 3), 236, np.uint8)
    base[: height // 30 + 4] = 210  # menu bar
    base[height // 8 : height * 7 // 8, width // 8 : width * 5 // 8] = 252  # window
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "g": str(2 * fps)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=SOUND_RATE, layout="mono")
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(_frame(base, i, fps), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        t = np.arange(int(seconds * SOUND_RATE)) / SOUND_RATE
        voice = 0.2 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
        samples = voice.astype(np.float32)[None]
        for start in range(0, samples.shape[1], 1024):
            part = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono"
            )
            part.sample_rate, part.pts = SOUND_RATE, start
            for packet in audio.encode(part):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
