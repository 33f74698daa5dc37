"""Fixtures shared by the input tests: the made-up video clips, written once per test run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from video_clips import CLIPS, write_clip

VIDEO_REFERENCE = Path(__file__).parent / "fixtures" / "video_reference.npz"
STORED_CLIPS = Path(__file__).parent / "fixtures" / "clips"  # clips kept as written for the reference


@pytest.fixture(scope="session")
def video_clips(tmp_path_factory) -> dict[str, Path]:
    """name -> path of each clip in video_clips.CLIPS."""
    folder = tmp_path_factory.mktemp("clips")
    out = {}
    for name, clip in CLIPS.items():
        stored = STORED_CLIPS / clip.file
        if stored.exists():
            # In full runs the rotated clip was twice encoded with other pictures than the reference saw,
            # three writes in a row (x264's choices, not Tandem's reading): the clip the reference saw is kept.
            out[name] = stored
            continue
        out[name] = write_clip(clip, folder)
    return out


@pytest.fixture(scope="session")
def video_reference() -> dict[str, dict[str, np.ndarray]]:
    """name -> what the reference made of that clip (make_video_reference.py)."""
    with np.load(VIDEO_REFERENCE) as data:
        out: dict[str, dict[str, np.ndarray]] = {}
        for key in data.files:
            name, field = key.split("/", 1)
            out.setdefault(name, {})[field] = data[key]
    return out
