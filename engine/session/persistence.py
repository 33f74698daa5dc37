"""A session's cache on disk, so reopening a long conversation does not prefill it again.

`save_session` writes two files: `PATH` (mlx-lm's prompt-cache safetensors, with the session's
messages and turn offsets in its metadata) and `PATH.segments.npz` (the tokens and media that were fed,
so that rolling back past the load point can feed them again). Snapshots are not saved: after a load,
rollback restores the nearest point by feeding segments from the start of the conversation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from mlx_lm.models.cache import load_prompt_cache, save_prompt_cache

from engine.session.marks import Mark, Segment, empty_snapshot

FORMAT = "tandem-session-1"
_FIELDS = ("ids", "pixel_values", "image_position_ids", "input_features", "input_features_mask",
           "pixel_values_videos", "video_position_ids")


def save_session(session, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "offset": session.offset,
        "messages": session.messages,
        "turns": [[m.offset, m.n_segments, m.n_messages, bool(m.meta.get("answer_open"))]
                  for m in session.turns],
        "answer_open": session.answer_open,
    }
    arrays = {}
    for i, seg in enumerate(session.segments):
        for name in _FIELDS:
            value = getattr(seg, name)
            if value is not None:
                arrays[f"{i}.{name}"] = np.asarray(value)
    tmp = path.with_name(path.name + ".tmp.safetensors")
    save_prompt_cache(str(tmp), session.cache, {"tandem": json.dumps(meta, default=str)})
    seg_tmp = path.with_name(path.name + ".segments.tmp.npz")
    np.savez(seg_tmp, count=np.array(len(session.segments)), **arrays)
    seg_tmp.replace(segments_path(path))
    tmp.replace(path)


def segments_path(path: Path) -> Path:
    return path.with_name(path.name + ".segments.npz")


def load_session(session, path: str | Path) -> None:
    """Replace the session's state with the saved one (the same model must be loaded)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no saved conversation cache at {path}")
    cache, metadata = load_prompt_cache(str(path), return_metadata=True)
    meta = json.loads(metadata.get("tandem", "{}"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a conversation cache this version can read")
    fresh = session.model.make_cache()
    if len(cache) != len(fresh) or any(type(a) is not type(b) for a, b in zip(cache, fresh)):
        raise ValueError(f"{path} was saved with a different model")
    with np.load(segments_path(path)) as data:
        count = int(data["count"])
        segments = [
            Segment(**{name: (data[f"{i}.{name}"] if f"{i}.{name}" in data else None)
                       for name in _FIELDS})
            for i in range(count)
        ]
    session.reset()
    session.cache = cache
    session.offset = int(meta["offset"])
    session.segments = segments
    session.messages = meta["messages"]
    session.answer_open = bool(meta["answer_open"])
    session.turns = [Mark(o, s, m, meta={"answer_open": a}) for o, s, m, a in meta["turns"]]
    if session.turns and session.turns[0].offset == 0:
        session.turns[0].snapshot = empty_snapshot(cache)
