"""Plain decoding on a prefilled cache, and what every decoder shares: stop/suppressed tokens, steps, stats.

`generate_tokens` is a plain generator over a model whose cache already holds the prompt. It yields one
`Step` per emitted token. The token that ends the turn (an `<eos>`, `<turn|>` or `<|tool_response>`) is
yielded with `stop=True` and is NOT fed to the model, so the cache holds exactly the tokens that were
yielded before it. Stopping the generator early (cancel) leaves the cache consistent in the same way.

Tokens are drawn by `engine.decode.sampling.Sampler` (mlx-lm's sampler chain), with the checkpoint's
suppressed tokens and an optional `TokenConstraint`, told of every token yielded (the stop token too).
Speculative decoding (`engine.decode.speculative`) yields the same steps with the same cache contract.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import mlx.core as mx

from engine.decode.sampling import Sampler, TokenConstraint
from engine.protocol import GenerationSettings

# Gemma 4 ids (reference doc §1.2): <eos>, <turn|>, <|tool_response>
DEFAULT_STOP_TOKENS = (1, 106, 50)


@dataclass(frozen=True)
class GenerationConfig:
    """What the checkpoint's generation_config.json says about stopping and suppressing."""

    stop_tokens: tuple[int, ...] = DEFAULT_STOP_TOKENS
    suppress_tokens: tuple[int, ...] = ()

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> "GenerationConfig":
        file = Path(path) / "generation_config.json"
        if not file.exists():
            return cls()
        data = json.loads(file.read_text())
        eos = data.get("eos_token_id", list(DEFAULT_STOP_TOKENS))
        eos = [eos] if isinstance(eos, int) else list(eos)
        return cls(tuple(eos), tuple(data.get("suppress_tokens") or ()))


@dataclass
class Step:
    token: int
    stop: bool = False
    from_draft: bool = False


@dataclass
class DecodeStats:
    """Counts of one answer; filled in while the generator runs."""

    generated: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    finished_at: float | None = None
    drafted: int = 0
    accepted: int = 0
    target_forwards: int = 0

    def tokens_per_second(self) -> float:
        if self.first_token_at is None or self.generated < 2:
            return 0.0
        end = self.finished_at or time.perf_counter()
        return (self.generated - 1) / max(end - self.first_token_at, 1e-9)


def drafter_pays_off() -> bool:
    """Whether speculative decoding is faster than plain decoding on this device (GPUs: yes)."""
    return mx.default_device().type == mx.DeviceType.gpu


def generate_tokens(
    model,
    cache: list,
    first_logits: mx.array,
    *,
    settings: GenerationSettings,
    config: GenerationConfig,
    stats: DecodeStats | None = None,
    constraint: TokenConstraint | None = None,
) -> Iterator[Step]:
    """Yield tokens one by one, starting from the logits of the prompt's last position.

    Args:
        model: the target model (engine contract).
        cache: the model's cache, already holding the prompt.
        first_logits: logits [1, L, V] whose last row predicts the first new token.
        settings: sampling settings and the max-tokens limit.
        config: stop and suppressed tokens.
        stats: optional counters to fill.
        constraint: limits the tokens allowed next; told of each token yielded.

    Yields:
        `Step` per token; the last one has `stop=True` when an end token was sampled.
    """
    if settings.seed is not None:
        mx.random.seed(settings.seed)
    sampler = Sampler.from_settings(settings, config.suppress_tokens, constraint)
    stats = stats or DecodeStats()
    stop_tokens = set(config.stop_tokens)
    token = sampler.sample(first_logits[:, -1, :])
    for n in range(settings.max_tokens):
        mx.eval(token)
        tok = int(token.item())
        sampler.advance(tok)  # before the next token's mask is built
        if stats.first_token_at is None:
            stats.first_token_at = time.perf_counter()
        stats.generated += 1
        if tok in stop_tokens:
            stats.finished_at = time.perf_counter()
            yield Step(tok, stop=True)
            return
        if n + 1 < settings.max_tokens:
            # Feed the token and start the next step before the caller sees this one.
            logits = model(token.reshape(1, 1), cache=cache)
            stats.target_forwards += 1
            next_token = sampler.sample(logits[:, -1, :])
            mx.async_eval(next_token)
        else:
            # The limit is reached: feed the last token so the cache holds all yielded tokens.
            mx.eval(model(token.reshape(1, 1), cache=cache, logits_to_keep=1))
            stats.target_forwards += 1
        stats.finished_at = time.perf_counter()
        yield Step(tok)
        if n + 1 < settings.max_tokens:
            token = next_token
