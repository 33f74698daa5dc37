"""Benchmark of speculative decoding that does not depend on the drafter's quality.

With random weights the acceptance rate means nothing, so `bench_speculative` measures what does not depend
on it: one plain decode step, a (K+1)-token verify forward, one draft step; then it projects the speed-up at
per-draft acceptance rates 0.5, 0.7 and 0.9 and checks greedy identity on the checkpoint at hand.

Projection (drafts accepted independently with probability a): a round of K drafts emits
E = (1 - a^(K+1)) / (1 - a) tokens and costs verify(K+1) + K * draft, against E plain decode steps.

    python -m engine.bench.speculative --shape tiny            # writes a random tiny checkpoint first
    python -m engine.bench.speculative --checkpoint DIR [--drafter DIR] [--num-draft 4] [--context 512]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import mlx.core as mx
import numpy as np

from engine.loading import load_drafter
from engine.decode.cache import CacheTransaction
from engine.decode.sampling import Sampler
from engine.decode.speculative import MTPDraftSource, SpeculativeStats, speculative_generate_step

ACCEPTANCE_RATES = (0.5, 0.7, 0.9)


def _best_ms(fns: dict[Any, Callable[[], Any]], repeats: int, warmup: int = 2) -> dict[Any, float]:
    """Fastest of `repeats` runs of each function, run round-robin so a burst of load on a shared machine
    hits every measurement alike; the minimum is the least disturbed one."""
    for fn in fns.values():
        for _ in range(warmup):
            mx.eval(fn())
    best = {key: float("inf") for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            t = time.perf_counter()
            mx.eval(fn())
            best[key] = min(best[key], (time.perf_counter() - t) * 1e3)
    return best


def expected_tokens(acceptance: float, num_draft: int) -> float:
    """Tokens per round when each draft is accepted independently with probability `acceptance`."""
    return (1 - acceptance ** (num_draft + 1)) / (1 - acceptance)


def projected_speedup(acceptance: float, num_draft: int, decode_ms: float, verify_ms: float, draft_ms: float) -> float:
    return expected_tokens(acceptance, num_draft) * decode_ms / (verify_ms + num_draft * draft_ms)


def bench_speculative(
    model: Any, drafter: Any, *, num_draft: int = 4, max_draft: int = 8, context: int = 256, repeats: int = 10,
    identity_tokens: int = 64, seed: int = 0,
) -> dict[str, Any]:
    """Time decode, verify and draft steps (best of `repeats`) on a cache holding `context` random tokens;
    check greedy identity.

    Returns:
        A JSON-ready dict: milliseconds per step, verify/decode cost ratios for K = 1..max_draft, projected
        speed-ups at acceptance 0.5/0.7/0.9 (for `num_draft` and for the best K), and the identity check.
    """
    rng = np.random.default_rng(seed)
    vocab = model.config.text_config.vocab_size
    prompt = mx.array([[2, *rng.integers(10, min(vocab, 10_000), size=context - 1).tolist()]])
    cache = model.make_cache()
    hidden = model.hidden_states(prompt, cache)
    logits = model.logits(hidden[:, -1:])
    mx.eval(logits, hidden, [c.state for c in cache])
    token = mx.array([[int(mx.argmax(logits[0, -1]).item())]])

    def verify(k: int) -> Callable[[], Any]:
        ids = mx.array([[int(token.item())] + [7] * k])

        def run():
            tx = CacheTransaction(cache)
            out = model.hidden_states(ids, cache)
            out = (model.logits(out), out)
            mx.eval(out)
            tx.abort()
            return out

        return run

    source = MTPDraftSource(model, drafter)
    greedy = Sampler()
    fns: dict[Any, Callable[[], Any]] = {k: verify(k) for k in range(1, max_draft + 1)}
    fns["draft"] = lambda: source.propose(int(token.item()), hidden[:, -1], cache, 1, greedy)
    # Plain decode steps advance the cache; a few extra tokens barely change a long context.
    fns["decode"] = lambda: model(token, cache=cache, logits_to_keep=1)
    best = _best_ms(fns, repeats)
    draft_ms, decode_ms = best.pop("draft"), best.pop("decode")
    verify_ms = best

    def best(a: float) -> dict[str, float]:
        k = max(verify_ms, key=lambda k: projected_speedup(a, k, decode_ms, verify_ms[k], draft_ms))
        return {"num_draft": k, "speedup": round(projected_speedup(a, k, decode_ms, verify_ms[k], draft_ms), 3)}

    return {
        "context": context,
        "decode_ms": round(decode_ms, 3),
        "draft_step_ms": round(draft_ms, 3),
        "verify_ms": {k + 1: round(v, 3) for k, v in verify_ms.items()},  # keyed by tokens verified (K + 1)
        "verify_over_decode": {k + 1: round(v / decode_ms, 3) for k, v in verify_ms.items()},
        "draft_over_decode": round(draft_ms / decode_ms, 3),
        "num_draft": num_draft,
        "projected_speedup": {
            str(a): round(projected_speedup(a, num_draft, decode_ms, verify_ms[num_draft], draft_ms), 3)
            for a in ACCEPTANCE_RATES
        },
        "projected_speedup_best_k": {str(a): best(a) for a in ACCEPTANCE_RATES},
        "greedy_identity": greedy_identity(model, drafter, prompt[:, : min(context, 64)], identity_tokens),
    }


def greedy_identity(model: Any, drafter: Any, prompt: mx.array, n: int) -> dict[str, Any]:
    """Speculative greedy output vs plain greedy output over `n` tokens."""
    cache = model.make_cache()
    logits = model(prompt, cache=cache)
    tok, plain = int(mx.argmax(logits[0, -1]).item()), []
    for _ in range(n):
        plain.append(tok)
        tok = int(mx.argmax(model(mx.array([[tok]]), cache=cache)[0, -1]).item())
    cache = model.make_cache()
    hidden = model.hidden_states(prompt, cache)
    logits = model.logits(hidden[:, -1:])
    stats = SpeculativeStats()
    spec = [t for t, _ in speculative_generate_step(
        int(mx.argmax(logits[0, -1]).item()), model, MTPDraftSource(model, drafter), cache, hidden[:, -1],
        max_tokens=n, stats=stats)]
    return {"tokens": n, "identical": spec == plain, "acceptance_rate": round(stats.acceptance_rate, 3),
            "tokens_per_round": round(stats.tokens_per_round, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="target checkpoint folder (default: write --shape)")
    parser.add_argument("--drafter", type=Path, help="drafter folder (default: CHECKPOINT/drafter)")
    parser.add_argument("--shape", default="tiny", help="random checkpoint shape when no --checkpoint is given")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--num-draft", type=int, default=4)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    from engine.loading import load_model, resolve_dtype

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            from engine.checkpoint import make_checkpoint

            checkpoint = make_checkpoint(Path(tmp) / args.shape, shape=args.shape, seed=0, with_drafter=True)
        dtype = resolve_dtype(args.dtype)
        model = load_model(checkpoint, dtype=dtype)
        drafter = load_drafter(args.drafter or Path(checkpoint) / "drafter", dtype=dtype)
        result = bench_speculative(model, drafter, num_draft=args.num_draft, context=args.context,
                                   repeats=args.repeats)
    result.update(checkpoint=str(args.checkpoint or f"random {args.shape}"), device=str(mx.default_device()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
