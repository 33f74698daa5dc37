"""engine.admission: a turn that would not fit in memory is refused before it starts; macOS's GPU limit."""

import subprocess
from types import SimpleNamespace

import pytest

from engine import protocol as ev
from engine.admission import memory_shortfall, turn_bytes, wired_limit_note
from engine.loading import load_everything
from engine.session import ContextTooLong, Session, SessionOptions

GIB = 1 << 30
GREEDY = ev.GenerationSettings(temperature=0.0, max_tokens=4, use_drafter=False)


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def test_a_turn_that_does_not_fit_is_refused_and_nothing_changes(loaded, monkeypatch):
    s = Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, SessionOptions())
    list(s.send("a first turn", GREEDY))
    ids, messages = s.token_ids().tolist(), list(s.messages)
    need = turn_bytes(loaded.model.config.text_config, s.cache, 10_000, 256)
    assert need > turn_bytes(loaded.model.config.text_config, s.cache, 100, 256) > 0
    monkeypatch.setattr("engine.admission.memory_limit", lambda: 1)
    with pytest.raises(ContextTooLong, match="too big for the memory left") as refused:
        list(s.send("a huge paste " * 50, GREEDY))
    assert refused.value.kind == "too_long" and "GB" in str(refused.value)
    assert s.token_ids().tolist() == ids and s.messages == messages
    monkeypatch.undo()
    assert any(isinstance(e, ev.TurnFinished) for e in s.send("then a short one", GREEDY))


def test_the_estimate_counts_the_new_tokens_keys_and_values_and_the_chunk():
    config = SimpleNamespace(hidden_size=8, intermediate_size=16, num_attention_heads=2, vocab_size=10)
    model = SimpleNamespace(config=SimpleNamespace(text_config=config))
    assert memory_shortfall(model, [], 4, 2, limit=10 * GIB, in_use=GIB) is None
    assert "needs about" in memory_shortfall(model, [], 4, 2, limit=GIB, in_use=GIB)


def fake_sysctl(value: str):
    def run(cmd, **kwargs):
        assert cmd == ["sysctl", "-n", "iogpu.wired_limit_mb"]
        return subprocess.CompletedProcess(cmd, 0, stdout=value + "\n", stderr="")
    return run


def test_the_wired_limit_note_on_macos_says_what_it_means_and_how_to_raise_it():
    note = wired_limit_note("darwin", total_bytes=16 * GIB, run=fake_sysctl("0"))
    assert "about 11 GB of this Mac's 16 GB (the default)" in note
    assert note.endswith("sudo sysctl iogpu.wired_limit_mb=14336")
    raised = wired_limit_note("darwin", total_bytes=16 * GIB, run=fake_sysctl("15000"))
    assert "about 15 GB" in raised and "(the default)" not in raised


def test_no_note_elsewhere_or_when_sysctl_fails():
    def broken(cmd, **kwargs):
        raise FileNotFoundError("sysctl")
    assert wired_limit_note("linux", run=fake_sysctl("0")) == ""
    assert wired_limit_note("darwin", total_bytes=16 * GIB, run=broken) == ""
    assert wired_limit_note("darwin", total_bytes=16 * GIB, run=fake_sysctl("unknown")) == ""
