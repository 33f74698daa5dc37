"""Every command that changes a session is all or nothing.

A failure anywhere in a command (before a forward, or after one wrote the caches), or a cancel before the command
is accepted, leaves the session exactly as it was: `Observed.assert_unchanged` (same tokens, messages, marks and
flags, and the next turn equals a fresh prefill of the conversation as it was). A cancel after acceptance ends
the command with a partial answer that is itself consistent (kept cache = fresh prefill). Each command runs with
sliding caches that keep their rows, and with ones that evict (so taking a command back must restore a snapshot
or feed the conversation again).
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image

from engine import protocol as ev
from engine.decode.cache import Retention
from engine.loading import load_everything
from engine.session import Cancelled, Session, SessionOptions

from session_invariants import GREEDY, Observed, assert_kept_cache_matches_fresh, run, scripted_steps

EVICTING = Retention(slack=2, max_retain=2, step=2)
RETENTIONS = pytest.mark.parametrize("retention", [Retention(), EVICTING], ids=["rows-kept", "evicting"])
SPEC = ev.GenerationSettings(temperature=0.0, max_tokens=6, use_drafter=True)


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint_with_drafter):
    return load_everything(str(tiny_checkpoint_with_drafter))


class FailingModel:
    """The model, raising at its `at`-th forward (1-based): before it runs, or (`after`) once it wrote the caches."""

    def __init__(self, model, at: int, after: bool) -> None:
        self.model, self.at, self.after, self.calls = model, at, after, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def _forward(self, run):
        self.calls += 1
        if self.calls == self.at and not self.after:
            raise RuntimeError("injected failure")
        out = run()
        if self.calls == self.at:
            mx.eval(out)
            raise RuntimeError("injected failure")
        return out

    def __call__(self, *args, **kwargs):
        return self._forward(lambda: self.model(*args, **kwargs))

    def hidden_states(self, *args, **kwargs):
        return self._forward(lambda: self.model.hidden_states(*args, **kwargs))

    def embed_inputs(self, *args, **kwargs):
        return self._forward(lambda: self.model.embed_inputs(*args, **kwargs))


AUDIO = np.random.default_rng(5).uniform(-0.4, 0.4, 2900).astype(np.float32)
IMAGE = Image.fromarray(np.random.default_rng(6).integers(0, 255, (60, 90, 3), np.uint8))
HISTORY = [
    {"role": "user", "content": "Hi, what is 2+2?"},
    {"role": "assistant", "content": "It is 4."},
    {"role": "user", "content": [{"type": "audio", "audio": AUDIO[:1500]}, {"type": "text", "text": "And?"}]},
    {"role": "assistant", "content": "A tone."},
    {"role": "user", "content": "Now answer this one."},
]


def one_turn(s):
    run(s.send("Hello there, who are you?", GREEDY))


def two_turns(s):
    one_turn(s)
    run(s.send("Tell me more, please.", GREEDY))


def three_turns(s):
    two_turns(s)
    run(s.send("And a third time.", GREEDY))


def tool_call(s):
    one_turn(s)
    s._steps = scripted_steps(s, '<|tool_call>call:read_file{path:<|"|>a.py<|"|>}<tool_call|>', 50)
    run(s.send("What is in a.py?", GREEDY))
    del s._steps


def voice_open(s):
    one_turn(s)
    run(s.start_voice(GREEDY))
    run(s.append_audio(AUDIO[:1700]))


def history_loaded(s):
    run(s.load_history(HISTORY[:4], GREEDY))


SCENARIOS = {
    "send": (two_turns, lambda s: s.send("A third message, long enough for a few chunks.", GREEDY)),
    "send-drafted": (two_turns, lambda s: s.send("A drafted third message.", SPEC)),
    "send-media": (one_turn, lambda s: s.send(
        [{"type": "image", "image": IMAGE}, {"type": "audio", "audio": AUDIO},
         {"type": "text", "text": "What is this?"}], GREEDY)),
    "tool-results": (tool_call, lambda s: s.send_tool_results(
        [{"name": "read_file", "response": "x = 1\nprint(x)"}], GREEDY)),
    "regenerate": (two_turns, lambda s: s.regenerate(GREEDY)),
    "regenerate-drafted": (two_turns, lambda s: s.regenerate(SPEC)),
    "regenerate-loaded": (history_loaded, lambda s: s.regenerate(GREEDY)),
    "rollback": (three_turns, lambda s: s.rollback(1)),
    "load-history": (two_turns, lambda s: s.load_history(HISTORY, GREEDY, answer=True)),
    "start-voice": (one_turn, lambda s: s.start_voice(GREEDY)),
    "append-audio": (voice_open, lambda s: s.append_audio(AUDIO)),
    "end-voice": (voice_open, lambda s: s.end_voice("And this?", GREEDY)),
}


def new_session(loaded, retention) -> Session:
    opts = SessionOptions(chunk_tokens=5, audio_chunk_frames=2, retention=retention, max_snapshots=2,
                          image_budget=70)
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts,
                   drafter=loaded.drafter)


@RETENTIONS
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_failure_anywhere_changes_nothing(loaded, name, retention):
    setup, command = SCENARIOS[name]
    for after in (False, True):
        s = new_session(loaded, retention)
        setup(s)
        before = Observed.of(s)
        at = 0
        while True:
            at += 1
            s.model = FailingModel(loaded.model, at, after)
            try:
                run(command(s))
            except RuntimeError as e:
                assert "injected failure" in str(e)
                s.model = loaded.model
                before.assert_unchanged(s)
                continue
            assert s.model.calls < at  # it ran to the end: every forward has failed once
            s.model = loaded.model
            assert at > 2 or (name, retention) == ("rollback", Retention()), "no forward to fail"
            assert_kept_cache_matches_fresh(s)
            break


@RETENTIONS
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_cancel_before_acceptance_changes_nothing_after_it_keeps_a_consistent_answer(loaded, name, retention):
    """Cancel at each event in turn (0: before the command starts) until one run completes."""
    setup, command = SCENARIOS[name]
    s = new_session(loaded, retention)
    setup(s)
    before = Observed.of(s)
    for k in range(200):
        seen = []
        if k == 0:
            s.cancel.set()
        try:
            for e in command(s):
                seen.append(e)
                if len(seen) == k:
                    s.cancel.set()
        except Cancelled:
            s.cancel.clear()
            assert not any(isinstance(e, ev.Accepted) for e in seen)
            before.assert_unchanged(s)
            continue
        s.cancel.clear()
        break
    finished = [e for e in seen if isinstance(e, ev.TurnFinished)]
    if finished:  # an answering command stands only once accepted, and then the Stop shows
        accepted = next(i for i, e in enumerate(seen) if isinstance(e, ev.Accepted))
        assert finished[0].reason == "cancelled"
        if name.startswith("regenerate"):
            assert k > accepted  # accepted with the new answer's first token: the old one survives earlier Stops
    assert_kept_cache_matches_fresh(s)
