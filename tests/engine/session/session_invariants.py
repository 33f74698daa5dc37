"""Invariant checks for live sessions. Each names the bug class it catches."""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from engine import protocol as ev

GREEDY = ev.GenerationSettings(temperature=0.0, max_tokens=6, use_drafter=False)


def run(events) -> list:
    """Drain a session generator; returns its events."""
    return list(events)


def answer_of(events: list) -> str:
    return next(e.text for e in events if isinstance(e, ev.TurnFinished))


def fresh_logits(model, segments) -> mx.array:
    """Logits of the last position after prefilling `segments` into a NEW cache in one forward pass.

    Media of all segments (images, video frames, audio) are concatenated in order; audio clips of different lengths are padded
    and masked, as the reference feature extractor batches them.
    """
    ids = np.concatenate([s.ids for s in segments])[None]
    pix = [s.pixel_values for s in segments if s.pixel_values is not None]
    pos = [s.image_position_ids for s in segments if s.image_position_ids is not None]
    vid = [s.pixel_values_videos for s in segments if s.pixel_values_videos is not None]
    vid_pos = [s.video_position_ids for s in segments if s.video_position_ids is not None]
    clips, masks = [], []
    for s in segments:
        if s.input_features is not None:
            for f, m in zip(s.input_features, s.input_features_mask):
                clips.append(f[m.astype(bool)])
    kwargs = {}
    if pix:
        kwargs["pixel_values"] = mx.array(np.concatenate(pix))
        kwargs["image_position_ids"] = mx.array(np.concatenate(pos))
    if vid:
        kwargs["pixel_values_videos"] = mx.array(np.concatenate(vid))
        kwargs["video_position_ids"] = mx.array(np.concatenate(vid_pos))
    if clips:
        longest = max(len(c) for c in clips)
        feats = np.zeros((len(clips), longest, clips[0].shape[-1]), np.float32)
        for i, c in enumerate(clips):
            feats[i, : len(c)] = c
            masks.append(np.arange(longest) < len(c))
        kwargs["input_features"] = mx.array(feats)
        kwargs["input_features_mask"] = mx.array(np.stack(masks))
    cache = model.make_cache()
    return model(mx.array(ids), cache=cache, logits_to_keep=1, **kwargs)[:, -1]


def assert_kept_cache_matches_fresh(session, rtol: float = 1e-4) -> None:
    """The last answer's first logits from the kept cache equal a fresh prefill of every token fed.

    Catches: positions or masks taken from the new turn instead of the running offset, sliding caches
    that lost keys between turns, tokens fed twice or not at all when turns are joined.
    """
    mark = session.answer_marks[-1]
    kept = mark.last_logits[:, -1]
    fresh = fresh_logits(session.model, session.segments[: mark.n_segments])
    assert_close(kept, fresh, rtol)


def assert_close(a: mx.array, b: mx.array, rtol: float = 1e-4) -> None:
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
    assert err < rtol, f"relative error {err:.2e} >= {rtol:.0e}"
    assert (a.argmax(-1) == b.argmax(-1)).all()
