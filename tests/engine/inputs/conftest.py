"""Fixtures shared by the input tests: the made-up video clips, written once per test run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from make_video_reference import content_sha
from video_clips import CLIPS, write_clip

VIDEO_REFERENCE = Path(__file__).parent / "fixtures" / "video_reference.npz"


@pytest.fixture(scope="session")
def video_clips(tmp_path_factory) -> dict[str, Path]:
    """name -> path of each clip in video_clips.CLIPS."""
    folder = tmp_path_factory.mktemp("clips")
    with np.load(VIDEO_REFERENCE) as data:
        wanted = {key.split("/")[0]: str(data[key]) for key in data.files if key.endswith("/clip_sha")}
    out = {}
    for name, clip in CLIPS.items():
        # Once in a loaded full run the rotated clip was encoded with other pictures than the reference
        # saw (the test then fails on the clip, not on Tandem): the clip is written again, at most twice.
        for _ in range(3):
            out[name] = write_clip(clip, folder)
            if name not in wanted or content_sha(out[name]) == wanted[name]:
                break
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
