"""What a session fed its cache, piece by piece, so that any part of the conversation can be fed again.

A `Segment` is a run of tokens fed in one piece, with the media its placeholders need. Segments are
fed in chunks; `vision_runs_end` keeps a bidirectional image block (or one video frame) inside one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.inputs.prompt import PromptInputs


@dataclass
class Segment:
    ids: np.ndarray  # int32 [L]
    pixel_values: np.ndarray | None = None
    image_position_ids: np.ndarray | None = None
    input_features: np.ndarray | None = None
    input_features_mask: np.ndarray | None = None
    pixel_values_videos: np.ndarray | None = None
    video_position_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def part(self, start: int, end: int, placeholder_ids: tuple[int, ...]) -> Segment:
        """Tokens [start, end) of this segment, fed again alone (replay after going back into a segment).

        A part holds either every media placeholder of the segment (it keeps the media) or none of them.
        """
        if (start, end) == (0, len(self)):
            return self
        inside = np.isin(self.ids[start:end], placeholder_ids).sum()
        total = np.isin(self.ids, placeholder_ids).sum()
        if inside == 0:
            return Segment(self.ids[start:end])
        if inside != total:
            raise ValueError("a part of a segment cannot cut its media placeholders in two")
        return Segment(self.ids[start:end], **self.media())

    def media(self) -> dict:
        return {
            "pixel_values": self.pixel_values,
            "image_position_ids": self.image_position_ids,
            "input_features": self.input_features,
            "input_features_mask": self.input_features_mask,
            "pixel_values_videos": self.pixel_values_videos,
            "video_position_ids": self.video_position_ids,
        }


def segment_of(inputs: PromptInputs) -> Segment:
    """The segment that feeds an encoded prompt."""

    def arr(x):
        return None if x is None else np.asarray(x)

    return Segment(
        ids=np.asarray(inputs.input_ids[0], np.int32),
        pixel_values=arr(inputs.pixel_values),
        image_position_ids=arr(inputs.image_position_ids),
        input_features=arr(inputs.input_features),
        input_features_mask=arr(inputs.input_features_mask),
        pixel_values_videos=arr(inputs.pixel_values_videos),
        video_position_ids=arr(inputs.video_position_ids),
    )


def vision_runs_end(ids: np.ndarray, start: int, end: int, vision_token_ids: tuple[int, ...]) -> int:
    """Move a chunk end forward so that it does not cut a run of image (or video-frame) tokens in two."""
    n = ids.shape[0]
    while 0 < end < n and ids[end] in vision_token_ids and ids[end - 1] == ids[end]:
        end += 1
    return end
