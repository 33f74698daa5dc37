"""Small made-up video files for tests: 64 x 48 frames of one grey level that rises frame by frame."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def grey_clip(path: Path, frames: int, rate: int, step: int, codec: str = "libvpx-vp9",
              options: dict | None = None, sound_samples: int = 0) -> Path:
    """Write `frames` frames at `rate` per second, frame i all grey level `step * i` (mod 256); with
    `sound_samples`, that many samples of a 16 kHz mono tone as AAC. Returns `path`."""
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=rate, options=options or {})
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=16000, layout="mono") if sound_samples else None
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (step * i) % 256, np.uint8), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            tone = (0.2 * np.sin(np.arange(sound_samples) / 9.0)).astype(np.float32)[None]
            for start in range(0, sound_samples, 1024):
                part = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, start : start + 1024]), format="fltp", layout="mono")
                part.sample_rate, part.pts = 16000, start
                for packet in audio.encode(part):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
    return path
