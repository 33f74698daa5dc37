"""engine.decode.sampling: one sampler whose draws are mlx-lm's, whose law is what it draws, and a constraint hook."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm.sample_utils import make_sampler

from engine.decode.sampling import Sampler, suppress
from engine.protocol import GenerationSettings

FILTERS = ({}, {"top_k": 6}, {"top_p": 0.7}, {"min_p": 0.1}, {"top_k": 9, "top_p": 0.9, "min_p": 0.05})


def _logits(rows: int = 1, vocab: int = 64, seed: int = 10) -> mx.array:
    rng = np.random.default_rng(seed)
    return mx.array(rng.standard_normal((rows, vocab)).astype(np.float32) * 2)


def _chi2_pvalue(counts: np.ndarray, probs: np.ndarray) -> float:
    import torch

    expected = counts.sum() * probs
    stat = float(((counts - expected) ** 2 / expected).sum())
    return float(torch.special.gammaincc(torch.tensor((len(probs) - 1) / 2.0), torch.tensor(stat / 2.0)))


class AllowOnly:
    """A constraint that allows a fixed set of tokens and records what was emitted."""

    def __init__(self, vocab: int, allowed: list[int] | None) -> None:
        self.mask = None if allowed is None else np.isin(np.arange(vocab), allowed)
        self.emitted: list[int] = []

    def allowed(self):
        return self.mask

    def advance(self, token: int) -> None:
        self.emitted.append(token)


@pytest.mark.parametrize("kw", FILTERS)
def test_draws_are_mlx_lm_make_sampler_draws(kw):
    """Same seed, same tokens as mlx-lm's sampler chain (so plain decoding's output did not change)."""
    logits = _logits(rows=500)
    logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    mx.random.seed(7)
    expected = np.array(make_sampler(temp=0.8, **kw)(logprobs))
    mx.random.seed(7)
    got = np.array(Sampler(temperature=0.8, **kw).sample(logits))
    assert np.array_equal(got, expected)
    assert np.array_equal(np.array(Sampler(**kw).sample(logits)), np.array(mx.argmax(logits, axis=-1)))


@pytest.mark.parametrize("kw", FILTERS[1:4])
def test_logprobs_are_the_law_the_draws_follow(kw):
    """`logprobs` is the law mlx-lm's `make_sampler` draws from (rejection sampling targets it)."""
    logits = _logits()
    logprobs = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    sampler = Sampler(temperature=0.7, **kw)
    p = np.exp(np.array(sampler.logprobs(logits)[0], dtype=np.float64))
    mx.random.seed(3)
    draws = np.array(make_sampler(temp=0.7, **kw)(mx.broadcast_to(logprobs, (4000, 64))))
    counts = np.bincount(draws, minlength=64)
    support = np.flatnonzero(p > 0)
    assert counts[support].sum() == 4000
    assert _chi2_pvalue(counts[support], p[support]) > 1e-3
    mx.random.seed(3)
    chosen = np.array(sampler.choose(mx.broadcast_to(sampler.logprobs(logits), (4000, 64))))
    assert _chi2_pvalue(np.bincount(chosen, minlength=64)[support], p[support]) > 1e-3


def test_settings_map_to_the_sampler():
    hot = Sampler.from_settings(GenerationSettings(temperature=0.5, top_p=0.9, top_k=5, min_p=0.1), (3,))
    assert (hot.temperature, hot.top_p, hot.top_k, hot.min_p, hot.suppress_tokens) == (0.5, 0.9, 5, 0.1, (3,))
    greedy = Sampler.from_settings(GenerationSettings(temperature=0.0, top_p=0.9, top_k=5))
    assert greedy.greedy and greedy.top_p == 0.0 and greedy.top_k == 0


def test_suppressed_tokens_are_never_chosen():
    logits = _logits(rows=3)
    best = np.array(mx.argmax(logits, axis=-1)).tolist()
    out = suppress(logits, best + [10_000])  # ids past the vocabulary are ignored
    assert all(np.isneginf(np.array(out)[i, t]) for i, t in enumerate(best))
    for kw in ({"temperature": 0.0}, {"temperature": 1.0, "top_k": 2}):
        sampler = Sampler(suppress_tokens=tuple(best), **kw)
        for _ in range(20):
            assert not set(np.array(sampler.sample(logits)).tolist()) & set(best)


@pytest.mark.parametrize("kw", ({"temperature": 0.0}, {"temperature": 1.5, "top_p": 0.95}))
def test_a_constraint_masks_the_draws_and_hears_each_token(kw):
    logits = _logits(vocab=64)
    allowed = [5, 17, 40]
    constraint = AllowOnly(60, allowed)  # shorter than the model's vocabulary: ids past it are not allowed
    sampler = Sampler(constraint=constraint, **kw)
    for _ in range(30):
        tok = int(sampler.sample(logits)[0].item())
        assert tok in allowed
        sampler.advance(tok)
    assert len(constraint.emitted) == 30
    lp = np.array(sampler.logprobs(logits)[0])
    assert np.isneginf(np.delete(lp, allowed)).all() and np.isclose(np.exp(lp).sum(), 1.0, atol=1e-5)
    free = Sampler(constraint=AllowOnly(64, None), temperature=0.0)
    assert int(free.sample(logits)[0].item()) == int(mx.argmax(logits[0]).item())
