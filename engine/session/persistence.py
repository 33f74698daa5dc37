"""A session's cache on disk, so reopening a long conversation does not prefill it again.

`save_session` writes two files: `PATH`, a safetensors file with each cache's rows (`cache.N.keys`,
`cache.N.values`; a quantized cache's six parts, packed rows with their scales and biases, as
`cache.N.0` ... `cache.N.5`, saved as they are: it reopens only into a session with the same `kv_bits`,
with exactly the rows it had) and, in its metadata, the format, each cache's class and meta state, and the session's
messages and turn offsets; and `PATH.segments.npz` (the tokens and media that were fed, so that rolling
back past the load point can feed them again). The turn and answer marks are saved, so rollback and
regenerate work on a reopened conversation; snapshots are not: going back past what the caches hold feeds
segments from the start of the conversation. A file of another format (mlx-lm's prompt caches, an older
Tandem) is refused with a clear error; a failed save leaves the previous files as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from engine.decode.cache import Cache, cache_from_state
from engine.session.errors import NotFound, SessionError
from engine.session.marks import Mark
from engine.session.segments import Segment

FORMAT = "tandem-session-3"
SEGMENT_FIELDS = ("ids", "pixel_values", "image_position_ids", "input_features", "input_features_mask",
                  "pixel_values_videos", "video_position_ids")


@dataclass
class SavedSession:
    """What a saved conversation brings back: its caches, what was fed, its messages, turn and answer marks."""

    cache: list[Cache]
    offset: int
    segments: list[Segment]
    messages: list[dict]
    turns: list[Mark]
    answer_marks: list[Mark]
    answer_open: bool


def save_session(session, path: str | Path) -> None:
    """Write the session's caches, segments, messages and turn marks (see the module docstring)."""
    session.drop_prepared_close()  # its rows are not part of the conversation yet
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "offset": session.offset,
        "messages": session.messages,
        "turns": [[m.offset, m.n_segments, m.n_messages, m.answer_open] for m in session.turns],
        "answers": [[m.offset, m.n_segments, m.n_messages, m.answer_open, m.prompt_fed]
                    for m in session.answer_marks],
        "answer_open": session.answer_open,
    }
    arrays = {}
    for i, seg in enumerate(session.segments):
        for name in SEGMENT_FIELDS:
            value = getattr(seg, name)
            if value is not None:
                arrays[f"{i}.{name}"] = np.asarray(value)
    tmp = path.with_name(path.name + ".tmp.safetensors")
    seg_tmp = path.with_name(path.name + ".segments.tmp.npz")
    try:
        save_caches(tmp, session.cache, {"tandem": json.dumps(meta, default=str)})
        np.savez(seg_tmp, count=np.array(len(session.segments)), **arrays)
    except BaseException:
        tmp.unlink(missing_ok=True)
        seg_tmp.unlink(missing_ok=True)
        raise
    seg_tmp.replace(segments_path(path))
    tmp.replace(path)


def segments_path(path: Path) -> Path:
    return path.with_name(path.name + ".segments.npz")


def load_session(session, path: str | Path) -> None:
    """Replace the session's state with the saved one (the same model must be loaded)."""
    fresh = session.model.make_cache(session.options.retention, kv_bits=session.options.kv_bits)
    session.restore_saved(read_session(path, fresh))


def read_session(path: str | Path, fresh: list[Cache]) -> SavedSession:
    """A saved conversation, checked against `fresh` (the loaded model's caches)."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"no saved conversation cache at {path}")
    cache, metadata = load_caches(path)
    meta = json.loads(metadata["tandem"])
    if [c.layout for c in cache] != [c.layout for c in fresh]:
        saved, here = kv_precision(cache), kv_precision(fresh)
        if saved != here and len(cache) == len(fresh):
            raise SessionError(f"{path} was saved with a {saved} KV cache and this conversation "
                               f"uses a {here} one: open it with the {saved} KV cache")
        raise SessionError(f"{path} was saved with a different model")
    if not segments_path(path).exists():
        raise SessionError(f"{path} is incomplete: {segments_path(path).name} is missing")
    with np.load(segments_path(path)) as data:
        count = int(data["count"])
        segments = [
            Segment(**{name: (data[f"{i}.{name}"] if f"{i}.{name}" in data else None)
                       for name in SEGMENT_FIELDS})
            for i in range(count)
        ]
    turns = [Mark(o, s, m, answer_open=a) for o, s, m, a in meta["turns"]]
    answers = [Mark(o, s, m, answer_open=a, prompt_fed=f) for o, s, m, a, f in meta["answers"]]
    return SavedSession(cache, int(meta["offset"]), segments, meta["messages"], turns, answers,
                        bool(meta["answer_open"]))


def kv_precision(caches: list) -> str:
    """"full-precision", "8-bit" or "4-bit": how the full-attention layers' keys and values are held."""
    bits = {c.bits for c in caches if hasattr(c, "bits")}
    return f"{min(bits)}-bit" if bits else "full-precision"


def save_caches(path: Path, caches: list, metadata: dict[str, str]) -> None:
    """Write the caches' rows and meta states to a safetensors file, with `metadata` beside them."""
    arrays, classes = {}, []
    for i, c in enumerate(caches):
        state = c.state
        if len(state) == 2:
            arrays[f"cache.{i}.keys"], arrays[f"cache.{i}.values"] = state
        else:  # a quantized cache: packed rows, scales and biases, for keys then values
            arrays.update({f"cache.{i}.{j}": part for j, part in enumerate(state)})
        classes.append([type(c).__name__, list(c.meta_state)])
    header = {**metadata, "format": FORMAT, "caches": json.dumps(classes)}
    mx.save_safetensors(str(path), arrays, header)


def load_caches(path: Path) -> tuple[list, dict[str, str]]:
    """The caches and the metadata `save_caches` wrote; any other file is refused with a clear error."""
    refused = SessionError(f"{path} is not a conversation cache this version of Tandem can read")
    try:
        arrays, metadata = mx.load(str(path), return_metadata=True)
    except Exception as e:  # noqa: BLE001 - not safetensors at all
        raise refused from e
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise refused
    caches = []
    for i, (name, meta_state) in enumerate(json.loads(metadata["caches"])):
        state = ()
        if f"cache.{i}.keys" in arrays:
            state = (arrays[f"cache.{i}.keys"], arrays[f"cache.{i}.values"])
        elif f"cache.{i}.0" in arrays:
            state = tuple(arrays[f"cache.{i}.{j}"] for j in range(6))
        caches.append(cache_from_state(name, state, meta_state))
    return caches, metadata
