"""Speculative decoding with the MTP drafter, on a cache the session already prefilled.

`speculative_generate_step(first_token, model, draft, cache, hidden_last, ...)` yields `(token, from_draft)`.
Each round drafts K tokens, verifies [pending, d1..dK] in ONE target forward, emits the accepted drafts plus
the target's own next token, and rolls both caches back to the accepted prefix. The drafter owns no cache: it
reads the target's K/V, so rolling back the target rolls back the drafter too.

Cache contract (the same as `engine.decode.generation.generate_tokens`): when the generator ends (limit reached,
closed early, e.g. on cancel) the cache holds every yielded token except a stop token, and nothing else, so
`cache offset == tokens fed` and the next turn prefills on top of it. Do not touch the cache while the
generator is suspended. Between yields of one round a `CacheTransaction` is open; closing the generator
commits exactly the tokens already yielded.

Rollback: each verify forward runs in an `engine.decode.cache.CacheTransaction`: commit keeps the accepted
prefix, abort drops it (both trim; the sliding caches keep slack rows for this, also past their window).
Greedy mode emits exactly the target's argmax tokens; sampled mode uses standard speculative rejection
sampling, so the output distribution is the target's (shared/reference/gemma4_unified.md §7).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

import mlx.core as mx

from engine.protocol import GenerationSettings
from engine.decode.cache import CacheTransaction
from engine.decode.generation import DecodeStats, GenerationConfig, Step
from engine.decode.sampling import Sampler
from engine.model.config import FULL, SLIDING
from engine.model.drafter import Drafter, SharedKV, draft_geometry


@dataclass
class SpeculativeStats:
    drafted: int = 0
    accepted: int = 0
    target_forwards: int = 0
    rounds: int = 0  # verify forwards
    emitted: int = 0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0

    @property
    def tokens_per_round(self) -> float:
        """Tokens emitted per verify forward (accepted drafts plus the target's own token)."""
        return (self.accepted + self.rounds) / self.rounds if self.rounds else 0.0


class DraftSource(Protocol):
    """Proposes draft tokens for the next round."""

    def propose(
        self, token: int, hidden: mx.array, cache: list[Any], num_draft: int, sampler: Sampler
    ) -> tuple[mx.array, mx.array]:
        """Draft `num_draft` tokens after `token` (not yet in `cache`).

        Args:
            token: the last emitted token; the cache holds everything before it.
            hidden: [1, H] target post-norm hidden state of the token before `token`.
            cache: the target's caches (read only).
            num_draft: K >= 1.
            sampler: how drafts are chosen (greedy, or drawn from the returned distribution).

        Returns:
            (tokens [K] int32, log-probs [K, V] the tokens were drawn from); both may be lazy.
        """
        ...


def shared_kv(cache: list[Any], sliding_index: int, full_index: int, sliding_entries: int) -> SharedKV:
    """The K/V the drafter reads: all of the last full layer, the newest `sliding_entries` of the last sliding one."""
    return {FULL: cache[full_index].last_rows(), SLIDING: cache[sliding_index].last_rows(sliding_entries)}


class MTPDraftSource:
    """Drafts with the MTP assistant: fixed query position, hidden state chained from step to step."""

    def __init__(self, model: Any, drafter: Drafter, position_offset: int = 0) -> None:
        self.model, self.drafter, self.position_offset = model, drafter, position_offset
        self.sliding_index = model.last_layer_of_type(SLIDING)
        self.full_index = model.last_layer_of_type(FULL)
        self.window = model.config.text_config.window

    def propose(
        self, token: int, hidden: mx.array, cache: list[Any], num_draft: int, sampler: Sampler
    ) -> tuple[mx.array, mx.array]:
        position, entries = draft_geometry(cache[self.full_index].offset, self.window, self.position_offset)
        kv = shared_kv(cache, self.sliding_index, self.full_index, entries)
        tok, g = mx.array([[token]]), hidden.reshape(1, 1, -1)
        tokens, logprobs = [], []
        for _ in range(num_draft):
            x = mx.concatenate([self.model.language_model.embed(tok), g], axis=-1)
            logits, g = self.drafter(x.astype(self.drafter.dtype), kv, position)
            lp = sampler.logprobs(logits[0])  # [1, V]
            tok = sampler.choose(lp).reshape(1, 1)
            tokens.append(tok.reshape(1))
            logprobs.append(lp)
        return mx.concatenate(tokens).astype(mx.int32), mx.concatenate(logprobs)


def _accept(
    sampler: Sampler, drafts: mx.array, draft_lp: mx.array, target_lp: mx.array
) -> tuple[int, int]:
    """(number of accepted drafts n, the target's token after them) for one verified round.

    Greedy: n = leading drafts equal to the target's argmax. Sampled: accept d_i with probability
    min(1, p_i(d_i) / q_i(d_i)); at the first rejection draw from normalize(max(p - q, 0)), else from p_K.
    """
    K = drafts.shape[0]
    if sampler.greedy:
        target = mx.argmax(target_lp, axis=-1)
        match = (drafts == target[:K]).astype(mx.int32)
        n_arr = mx.cumprod(match).sum()
        mx.eval(n_arr, target)
        n = int(n_arr.item())
        return n, int(target[n].item())
    p = mx.exp(target_lp)  # [K + 1, V]
    q = mx.exp(draft_lp)  # [K, V]
    rows = mx.arange(K)
    p_d, q_d = p[rows, drafts], q[rows, drafts]
    accept = (mx.random.uniform(shape=(K,)) * q_d < p_d).astype(mx.int32)
    n_arr = mx.cumprod(accept).sum()
    residual = mx.maximum(p[:K] - q, 0.0)
    residual = mx.where(residual.sum(axis=-1, keepdims=True) > 0, residual, p[:K])  # p == q: nothing left over
    pick_from = mx.concatenate([residual, p[K:]])  # row K: every draft was accepted, draw from p_K
    choices = mx.random.categorical(mx.log(pick_from))
    mx.eval(n_arr, choices)
    n = int(n_arr.item())
    return n, int(choices[n].item())


def verify_ids(model: Any, pending: int, drafts: mx.array) -> mx.array:
    """[1, K + 1] ids to verify, with image/video placeholders replaced by the pad id.

    Without pixels the model embeds a placeholder as the pad token anyway, but a run of them would be masked
    as one bidirectional image block, which one-by-one decoding never does.
    """
    cfg = model.config
    ids = mx.concatenate([mx.array([pending], dtype=mx.int32), drafts])
    vision = (ids == cfg.image_token_id) | (ids == cfg.video_token_id)
    return mx.where(vision, cfg.text_config.pad_token_id, ids)[None]


def speculative_generate_step(
    first_token: int,
    model: Any,
    draft: DraftSource,
    cache: list[Any],
    hidden_last: mx.array | None,
    *,
    sampler: Sampler = Sampler(),
    max_tokens: int = 256,
    num_draft: int = 4,
    max_draft: int = 8,
    adaptive: bool = True,
    stop_tokens: Sequence[int] = (),
    stats: SpeculativeStats | None = None,
) -> Iterator[tuple[int, bool]]:
    """Yield `(token, from_draft)`, starting with `first_token`, for at most `max_tokens` tokens.

    Args:
        first_token: the token the caller sampled from the prefill's last logits (not yet in `cache`).
        model: the target model (engine contract, with `hidden_states` and `logits`).
        draft: the draft source, e.g. `MTPDraftSource(model, drafter)`.
        cache: the target's caches, holding the prompt (and any earlier turns).
        hidden_last: [1, H] or [1, 1, H] post-norm hidden state of the prompt's last position; None starts
            with one plain decode step, which provides it.
        sampler: greedy or sampled, with suppressed tokens; applied to target and drafter alike (no
            constraint: constrained decoding is plain decoding, see `engine.session.Session`).
        max_tokens: the most tokens to yield (first_token included).
        num_draft: drafts per round to start with; with `adaptive` it grows by 2 after a fully accepted round
            and shrinks by 1 otherwise, within [1, max_draft].
        stop_tokens: yielding one of these ends the generator; it is not fed to the cache.
        stats: counters to fill (drafted, accepted, target forwards, emitted).
    """
    stats = stats if stats is not None else SpeculativeStats()
    stops = set(stop_tokens)
    pending, k = int(first_token), num_draft
    hidden = None if hidden_last is None else hidden_last.reshape(1, -1)
    failed, emitted = False, 1
    try:
        stats.emitted += 1
        yield pending, False
        if pending in stops:
            return
        while emitted < max_tokens:
            if hidden is None:
                h = model.hidden_states(mx.array([[pending]]), cache)
                stats.target_forwards += 1
                pending, hidden = int(sampler.choose(sampler.logprobs(model.logits(h)[0, -1])).item()), h[:, -1]
                emitted += 1
                stats.emitted += 1
                yield pending, False
                if pending in stops:
                    return
                continue
            k = max(1, min(k, max_draft, max_tokens - emitted))
            drafts, draft_lp = draft.propose(pending, hidden, cache, k, sampler)
            tx = CacheTransaction(cache)
            with tx:
                h = model.hidden_states(verify_ids(model, pending, drafts), cache)
                n, bonus = _accept(sampler, drafts, draft_lp, sampler.logprobs(model.logits(h)[0]))
            stats.rounds += 1
            stats.target_forwards += 1
            stats.drafted += k
            stats.accepted += n
            out = drafts[:n].tolist() + [bonus]
            keep = 1  # `pending` was yielded last round, so it stays
            try:
                for j, tok in enumerate(out):
                    if tok in stops:
                        keep, pending = j + 1, None
                    elif j < n:
                        keep, pending = j + 2, None
                    else:
                        keep, pending = n + 1, tok
                    emitted += 1
                    stats.emitted += 1
                    yield tok, j < n
                    if tok in stops or emitted >= max_tokens:
                        break
            finally:
                tx.commit(keep)
            if pending is None:
                return
            hidden = h[:, keep - 1]
            if adaptive:
                k = k + 2 if n == k else k - 1
    except Exception:
        failed = True
        raise
    finally:
        if not failed and pending is not None and pending not in stops:
            # Closed early or at the limit: feed the last yielded token so the cache holds all of them.
            mx.eval(model(mx.array([[pending]]), cache=cache, logits_to_keep=1))
            stats.target_forwards += 1


def generate_speculative(
    model: Any,
    draft: DraftSource,
    cache: list[Any],
    first_logits: mx.array,
    *,
    settings: GenerationSettings,
    config: GenerationConfig,
    stats: DecodeStats | None = None,
    hidden_last: mx.array | None = None,
) -> Iterator[Step]:
    """`engine.decode.generation.generate_tokens` with drafts: same arguments, same `Step`s, same cache contract.

    Without `hidden_last` (the prefill did not ask for hidden states) the first step is a plain decode step.
    `stats` gets drafted, accepted and target_forwards besides the plain counters.
    """
    if settings.seed is not None:
        mx.random.seed(settings.seed)
    sampler = Sampler.from_settings(settings, config.suppress_tokens)
    stats = stats if stats is not None else DecodeStats()
    stops = set(config.stop_tokens)
    first = int(sampler.choose(sampler.logprobs(first_logits[0, -1])).item())
    spec = SpeculativeStats()
    steps = speculative_generate_step(first, model, draft, cache, hidden_last, sampler=sampler,
                                      max_tokens=settings.max_tokens, stop_tokens=config.stop_tokens, stats=spec)
    try:
        for token, from_draft in steps:
            stats.first_token_at = stats.first_token_at or time.perf_counter()
            stats.generated += 1
            stats.drafted, stats.accepted, stats.target_forwards = spec.drafted, spec.accepted, spec.target_forwards
            stats.finished_at = time.perf_counter()
            yield Step(token, stop=token in stops, from_draft=from_draft)
    finally:
        steps.close()  # feeds the last yielded token if the caller stopped early
        stats.target_forwards = spec.target_forwards
