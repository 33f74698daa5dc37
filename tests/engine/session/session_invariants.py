"""Invariant checks for live sessions. Each names the bug class it catches."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from engine import protocol as ev

GREEDY = ev.GenerationSettings(temperature=0.0, max_tokens=6, use_drafter=False)
PROBE = 40  # an ordinary text token fed after the kept cache to read its next-token logits


def run(events) -> list:
    """Drain a session generator; returns its events."""
    return list(events)


def answer_of(events: list) -> str:
    return next(e.text for e in events if isinstance(e, ev.TurnFinished))


def fresh_logits(model, segments, extra: list[int] = ()) -> mx.array:
    """Logits of the last position after prefilling `segments` (then `extra` tokens) into a NEW cache at once.

    Media of all segments (images, video frames, audio) are concatenated in order; audio clips of different lengths are padded
    and masked, as the reference feature extractor batches them.
    """
    ids = np.concatenate([s.ids for s in segments] + [np.asarray(extra, np.int32)])[None]
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


def clone_caches(caches: list) -> list:
    """Independent copies (MLX writes in place through the array objects a cache holds)."""
    return [type(c).from_state(tuple(mx.array(x) for x in c.state), c.meta_state) for c in caches]


def kept_next_logits(session, probe: int = PROBE) -> mx.array:
    """The next-token logits after `probe`, fed to a copy of the session's cache as it is kept."""
    return session.model(mx.array([[probe]]), cache=clone_caches(session.cache))[:, -1]


def assert_kept_cache_matches_fresh(session, rtol: float = 1e-4) -> None:
    """The cache as kept equals a fresh prefill of every token the session says it fed.

    Checked through the logits after one more token, so every row the cache holds takes part. Catches:
    positions or masks taken from the new turn instead of the running offset, sliding caches that lost keys
    between turns, tokens fed twice or not at all when turns are joined, rows a cancelled or failed command
    left in the cache that the session does not know about, an offset that drifted from the tokens fed.
    """
    fed = sum(len(s) for s in session.segments)
    assert session.offset == fed, f"the session says {session.offset} tokens, its segments hold {fed}"
    assert all(c.offset == fed for c in session.cache), [c.offset for c in session.cache]
    assert_close(kept_next_logits(session), fresh_logits(session.model, session.segments, [PROBE]), rtol)


def assert_close(a: mx.array, b: mx.array, rtol: float = 1e-4) -> None:
    # numpy has no bfloat16: MLX arrays are widened by MLX first
    a, b = (np.array(x.astype(mx.float32) if isinstance(x, mx.array) else x, dtype=np.float64) for x in (a, b))
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
    assert err < rtol, f"relative error {err:.2e} >= {rtol:.0e}"
    assert (a.argmax(-1) == b.argmax(-1)).all()


def _marks(marks) -> list[tuple]:
    return [(m.offset, m.n_segments, m.n_messages, m.answer_open, m.prompt_fed) for m in marks]


@dataclass
class Observed:
    """Everything a command may change, as seen from outside: `Observed.of(session)` before it, then
    `assert_unchanged(session)` after a failure or cancel (all or nothing)."""

    token_ids: list[int]
    offset: int
    messages: list[dict]
    turns: list[tuple]
    answer_marks: list[tuple]
    answer_open: bool
    awaiting_tools: list[str]
    voice: tuple | None
    next_logits: np.ndarray

    @classmethod
    def of(cls, session) -> Observed:
        """What `session` looks like now; its cache must equal a fresh prefill of what it fed."""
        assert_kept_cache_matches_fresh(session)
        v = session.voice
        return cls(session.token_ids().tolist(), session.offset, copy.deepcopy(session.messages),
                   _marks(session.turns), _marks(session.answer_marks), session.answer_open,
                   [c.name for c in session.awaiting_tools],
                   None if v is None else (v.buffer.tolist(), v.clips, v.clip_tokens, v.samples),
                   np.array(kept_next_logits(session)))

    def assert_unchanged(self, session) -> None:
        """The session is exactly as observed: same tokens and cache contents (next turn equal), messages,
        marks and flags. Catches a command that leaves a turn, a mark, a message or rows behind when it
        fails or is cancelled, or consumes a mark it should have kept."""
        v = session.voice
        now = Observed(session.token_ids().tolist(), session.offset, session.messages,
                       _marks(session.turns), _marks(session.answer_marks), session.answer_open,
                       [c.name for c in session.awaiting_tools],
                       None if v is None else (v.buffer.tolist(), v.clips, v.clip_tokens, v.samples),
                       np.array(kept_next_logits(session)))
        assert all(c.offset == self.offset for c in session.cache), [c.offset for c in session.cache]
        assert now.token_ids == self.token_ids
        assert now.offset == self.offset
        assert now.messages == self.messages
        assert (now.turns, now.answer_marks) == (self.turns, self.answer_marks)
        assert (now.answer_open, now.awaiting_tools, now.voice) == (
            self.answer_open, self.awaiting_tools, self.voice)
        assert_close(now.next_logits, self.next_logits)  # the same cache contents (it was a fresh prefill's)


def scripted_steps(session, text: str, stop_token: int):
    """Make the session 'generate' `text` then `stop_token`, feeding each token like real decoding."""
    from engine.decode.generation import Step

    def steps(logits, settings, stats, constraint=None):
        for tok in session.tokenizer.encode(text, add_special_tokens=False):
            session.model(mx.array([[tok]]), cache=session.cache)
            stats.generated += 1
            yield Step(tok)
        yield Step(stop_token, stop=True)

    return steps
