"""How a token is chosen from logits: one sampler for plain and speculative decoding, and a constraint hook.

`Sampler.from_settings(settings, suppress_tokens, constraint)` is greedy at temperature 0; otherwise it draws
from mlx-lm's sampler chain, built from the same pieces as `mlx_lm.sample_utils.make_sampler` in the same
order (top-p, min-p, top-k on the log-probs, then a categorical draw at the temperature):
- `sample(logits)` draws one token per row exactly as `make_sampler` does (plain decoding);
- `logprobs(logits)` is the log of the law tokens are drawn from and `choose(logprobs)` draws from it
  (speculative decoding's rejection sampling needs the law itself).
Before all of it, suppressed tokens (the checkpoint's generation config) and the tokens a
`TokenConstraint` does not allow get -inf. `advance(token)` tells the constraint what was emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import mlx.core as mx
import numpy as np
from mlx_lm.sample_utils import apply_min_p, apply_top_k, apply_top_p, categorical_sampling

from engine.protocol import GenerationSettings


class TokenConstraint(Protocol):
    """Limits which tokens may come next (constrained decoding, e.g. a JSON schema)."""

    def allowed(self) -> np.ndarray | None: ...  # bool [vocab] mask of tokens allowed next; None = any

    def advance(self, token: int) -> None: ...  # the token was emitted


def suppress(logits: mx.array, token_ids: Sequence[int]) -> mx.array:
    """Set the logits of `token_ids` to -inf in every row of `logits` [..., V] (never sampled)."""
    ids = [t for t in token_ids if t < logits.shape[-1]]
    if not ids:
        return logits
    idx = mx.broadcast_to(mx.array(ids, dtype=mx.int32), (*logits.shape[:-1], len(ids)))
    return mx.put_along_axis(logits, idx, mx.array(-mx.inf, dtype=logits.dtype), axis=-1)


def _mask_of(constraint: TokenConstraint, vocab: int) -> mx.array | None:
    allowed = constraint.allowed()
    if allowed is None:
        return None
    allowed = np.asarray(allowed, dtype=bool).reshape(-1)[:vocab]
    if allowed.shape[0] < vocab:  # ids past the constraint's vocabulary are never allowed
        allowed = np.concatenate([allowed, np.zeros(vocab - allowed.shape[0], bool)])
    return mx.array(allowed)


@dataclass(frozen=True)
class Sampler:
    """Greedy at temperature 0; else mlx-lm's sampler chain (see the module docstring)."""

    temperature: float = 0.0
    top_p: float = 0.0
    top_k: int = 0
    min_p: float = 0.0
    suppress_tokens: tuple[int, ...] = ()
    constraint: TokenConstraint | None = None

    @classmethod
    def from_settings(cls, settings: GenerationSettings, suppress_tokens: Sequence[int] = (),
                      constraint: TokenConstraint | None = None) -> Sampler:
        hot = settings.temperature > 0
        return cls(settings.temperature, settings.top_p if hot else 0.0, settings.top_k if hot else 0,
                   settings.min_p, tuple(suppress_tokens), constraint)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def _filtered(self, logits: mx.array) -> mx.array:
        """Normalized log-probs [..., V] (float32) after suppression, the constraint and the filters."""
        x = suppress(logits.astype(mx.float32), self.suppress_tokens)
        if self.constraint is not None:
            mask = _mask_of(self.constraint, x.shape[-1])
            if mask is not None:
                x = mx.where(mask, x, mx.array(-mx.inf, dtype=x.dtype))
        x = x - mx.logsumexp(x, axis=-1, keepdims=True)
        if self.greedy:
            return x
        if 0 < self.top_p < 1.0:
            x = apply_top_p(x, self.top_p)
        if self.min_p != 0.0:
            x = apply_min_p(x, self.min_p)
        if self.top_k > 0:
            x = apply_top_k(x, self.top_k)
        return x

    def sample(self, logits: mx.array) -> mx.array:
        """One token per row of `logits` [..., V], drawn as mlx-lm's `make_sampler` draws it."""
        x = self._filtered(logits)
        return mx.argmax(x, axis=-1) if self.greedy else categorical_sampling(x, self.temperature)

    def logprobs(self, logits: mx.array) -> mx.array:
        """Log of the law tokens are drawn from, per row of `logits` [..., V] (float32, normalized)."""
        x = self._filtered(logits)
        if self.greedy:
            return x
        x = x * (1 / self.temperature)
        return x - mx.logsumexp(x, axis=-1, keepdims=True)

    def choose(self, logprobs: mx.array) -> mx.array:
        """One token per row of `logprobs` (from `self.logprobs`)."""
        return mx.argmax(logprobs, axis=-1) if self.greedy else mx.random.categorical(logprobs)

    def advance(self, token: int) -> None:
        """Tell the constraint (if any) that `token` was emitted."""
        if self.constraint is not None:
            self.constraint.advance(token)
