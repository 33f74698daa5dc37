"""The MTP drafter inside a live session: greedy output is the same as plain decoding, turn after turn."""

import numpy as np
import pytest

from engine import protocol as ev
from engine.decode.cache import Retention
from engine.session import Session, SessionOptions
from engine.loading import load_everything

from session_invariants import assert_kept_cache_matches_fresh, run

SPEC = ev.GenerationSettings(temperature=0.0, max_tokens=24, use_drafter=True)
PLAIN = ev.GenerationSettings(temperature=0.0, max_tokens=24, use_drafter=False)


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint_with_drafter):
    out = load_everything(str(tiny_checkpoint_with_drafter))
    assert out.drafter is not None
    return out


def session(loaded, retention: Retention = Retention()):
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config,
                   SessionOptions(chunk_tokens=7, retention=retention), drafter=loaded.drafter)


def turn_stats(events):
    return [e for e in events if isinstance(e, ev.TurnStats)][0]


# Sliding caches that evict: verify rounds past the window must still roll back exactly.
@pytest.mark.parametrize("retention", [Retention(), Retention(slack=9, max_retain=9, step=4)])
def test_drafted_turns_equal_plain_turns_with_media_and_past_the_window(loaded, tmp_path, retention):
    from PIL import Image

    image = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 144, 3), np.uint8)).save(image)
    turns = [
        "Hello, tell me a long story about the sea and the wind and the stars.",
        [{"type": "image", "image": str(image)},
         {"type": "audio", "audio": np.random.default_rng(1).uniform(-0.3, 0.3, 3000).astype(np.float32)},
         {"type": "text", "text": "What is this?"}],
        "And a third turn.",
    ]
    drafted, plain = session(loaded, retention), session(loaded)
    for content in turns:
        events = run(drafted.send(content, SPEC))
        stats = turn_stats(events)
        assert stats.drafted > 0 and stats.target_forwards < stats.generated_tokens + 1
        run(plain.send(content, PLAIN))
        assert drafted.token_ids().tolist() == plain.token_ids().tolist()
    assert drafted.offset > 3 * loaded.model.config.text_config.sliding_window
    run(drafted.send("Last.", PLAIN))
    assert_kept_cache_matches_fresh(drafted)


def test_regenerate_and_cancel_with_the_drafter(loaded):
    s, ref = session(loaded), session(loaded)
    run(s.send("One.", SPEC))
    first = s.token_ids().tolist()
    run(s.regenerate(SPEC))
    assert s.token_ids().tolist() == first
    events = []
    for e in s.send("Two, and make it long.", SPEC):
        events.append(e)
        if isinstance(e, (ev.TextDelta, ev.ToolCallEvent, ev.ParseErrorEvent)):
            s.cancel.set()
    s.cancel.clear()
    assert s.offset == len(s.token_ids())
    run(s.send("Three.", PLAIN))
    assert_kept_cache_matches_fresh(s)
    del ref


class OnlyTokens:
    """A constraint that allows a few tokens and the end of the turn, and hears every token."""

    def __init__(self, vocab: int, allowed: list[int]) -> None:
        self.mask = np.isin(np.arange(vocab), allowed)
        self.heard: list[int] = []

    def allowed(self):
        return self.mask

    def advance(self, token: int) -> None:
        self.heard.append(token)


def test_a_constraint_decodes_plainly_and_is_followed(loaded):
    """Constrained decoding runs plain decoding even when the drafter is asked for, and obeys the mask."""
    s = session(loaded)
    words = loaded.tokenizer.encode(" yes no", add_special_tokens=False)
    constraint = OnlyTokens(loaded.model.config.text_config.vocab_size, words)
    events = run(s.send("Answer yes or no.", SPEC, constraint=constraint))
    stats = turn_stats(events)
    assert stats.drafted == 0 and stats.generated_tokens == len(constraint.heard) == SPEC.max_tokens
    assert set(s.segments[-1].ids.tolist()) <= set(words) and constraint.heard == s.segments[-1].ids.tolist()
    assert_kept_cache_matches_fresh(s)
