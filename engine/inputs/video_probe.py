"""A quick look at a video file before it is sent: length, sound, first frame, and how it will be sampled.

Contract:
- `probe_video(path, thumbnail_px=64)` reads the video stream's packets once (no decoding but the
  first frame) and returns `VideoProbe`: duration in seconds, frame count, the sound's length (0 when
  there is none), a small upright RGB thumbnail of the first frame (uint8 [h, w, 3], longest side
  `thumbnail_px`), and `sampling`: what `read_video`'s defaults will give the model, as a sentence
  ("32 frames from 2:03, sound 2:00 of 2:03"); `is_cut` says whether that is less than the clip.
- Raises `VideoError` with a sentence for a file that is missing, empty, not a video, or has no frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from engine.inputs.video import (
    MAX_SOUND_SECONDS,
    NUM_FRAMES,
    VideoError,
    open_video,
    scan_frames,
    span,
)


@dataclass(frozen=True)
class VideoProbe:
    duration: float
    total_frames: int
    sound_seconds: float
    thumbnail: np.ndarray | None

    @property
    def is_cut(self) -> bool:
        """Whether the model gets less than the whole clip (some frames, or the start of the sound)."""
        return self.total_frames > NUM_FRAMES or self.sound_seconds > MAX_SOUND_SECONDS

    @property
    def sampling(self) -> str:
        frames = min(self.total_frames, NUM_FRAMES)
        picture = (f"all {frames} frames of {span(self.duration)}" if frames == self.total_frames
                   else f"{frames} frames from {span(self.duration)}")
        if self.sound_seconds <= 0:
            return f"{picture}, no sound"
        if self.sound_seconds > MAX_SOUND_SECONDS:
            return f"{picture}, sound {span(MAX_SOUND_SECONDS)} of {span(self.sound_seconds)}"
        return f"{picture}, sound {span(self.sound_seconds)}"


def probe_video(path: str | os.PathLike, thumbnail_px: int = 64) -> VideoProbe:
    container, stream, name = open_video(path)
    with container:
        audio = container.streams.audio[0] if container.streams.audio else None
        sound = (float(audio.duration * audio.time_base) if audio is not None and audio.duration
                 and audio.time_base else 0.0)
        frames = scan_frames(container, stream)
        if frames.count == 0:
            raise VideoError(f"{name} has no video frames (a zero-length clip)")
        duration = frames.end - frames.begin
        if audio is not None and sound == 0.0:
            sound = duration  # the container does not state it: about as long as the picture
        thumbnail = None
        try:
            container.seek(int(frames.pts[0]), stream=stream, backward=True, any_frame=False)
            frame = next(iter(container.decode(stream)), None)
            if frame is not None:
                scale = thumbnail_px / max(frame.width, frame.height)
                rgb = frame.to_ndarray(format="rgb24", width=max(1, round(frame.width * scale)),
                                       height=max(1, round(frame.height * scale)))
                turns = int(round((frame.rotation or 0) / 90)) % 4  # upright, as read_video shows it
                thumbnail = np.ascontiguousarray(np.rot90(rgb, turns))
        except Exception:  # noqa: BLE001 - a chip without a picture is still fine
            thumbnail = None
    return VideoProbe(duration, frames.count, sound, thumbnail)
