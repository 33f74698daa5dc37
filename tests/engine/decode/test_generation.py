"""engine.decode.generation: stop and suppressed tokens from the checkpoint, and plain decoding's cache contract.

The contract: the cache holds exactly the tokens yielded before a stop token (which is not fed), also when
the limit is reached or the caller stops early.
"""

from __future__ import annotations

import json

import mlx.core as mx
import pytest

from engine.decode.generation import DEFAULT_STOP_TOKENS, DecodeStats, GenerationConfig, generate_tokens
from engine.loading import load_model
from engine.protocol import GenerationSettings

GREEDY = GenerationSettings(temperature=0.0, max_tokens=10)
PROMPT = mx.array([[2, 105, 30, 31, 32, 33, 106, 107]])


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_model(tiny_checkpoint, dtype="float32")


def test_generation_config_from_the_checkpoint(tmp_path):
    assert GenerationConfig.from_checkpoint(tmp_path) == GenerationConfig(DEFAULT_STOP_TOKENS, ())
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": 7, "suppress_tokens": [3]}))
    assert GenerationConfig.from_checkpoint(tmp_path) == GenerationConfig((7,), (3,))
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [1, 106]}))
    assert GenerationConfig.from_checkpoint(tmp_path) == GenerationConfig((1, 106), ())


def _run(model, config, settings=GREEDY, stop_after=None):
    cache = model.make_cache()
    logits = model(PROMPT, cache=cache)
    stats = DecodeStats()
    steps = generate_tokens(model, cache, logits, settings=settings, config=config, stats=stats)
    out = []
    for step in steps:
        out.append(step)
        if stop_after is not None and len(out) == stop_after:
            steps.close()
            break
    return out, cache, stats


def test_the_cache_holds_exactly_the_tokens_yielded(model):
    free, cache, stats = _run(model, GenerationConfig((), ()))
    assert len(free) == 10 and not any(s.stop for s in free)
    assert cache[0].offset == PROMPT.shape[1] + 10  # the limit: the last token was fed too
    assert stats.generated == 10 and stats.target_forwards == 10
    tokens = [s.token for s in free]
    at = next(i for i in range(1, 10) if tokens[i] not in tokens[:i])
    stopped, cache, _ = _run(model, GenerationConfig((tokens[at],), ()))
    assert [s.token for s in stopped] == tokens[: at + 1] and stopped[-1].stop
    assert cache[0].offset == PROMPT.shape[1] + at  # the stop token is not fed
    early, cache, _ = _run(model, GenerationConfig((), ()), stop_after=3)
    assert [s.token for s in early] == tokens[:3]
    assert cache[0].offset == PROMPT.shape[1] + 3  # closed early (cancel): what was yielded is fed


def test_suppressed_tokens_change_the_greedy_path(model):
    free, _, _ = _run(model, GenerationConfig((), ()))
    first = free[0].token
    suppressed, _, _ = _run(model, GenerationConfig((), (first,)))
    assert first not in [s.token for s in suppressed]
