"""What a conversation's KV caches hold beyond the rows the next query needs.

`python -m engine.bench.memory [--shape 12b] [--turns N] [--prompt-tokens P] [--answer-tokens A]`
builds the caches of a shape's layers (`engine.checkpoint.shapes`: every layer owns one, sliding layers
with the shape's window) and plays a conversation of N turns the way a session feeds it: the rollback
point set at each turn's start (as the session does), the prompt fed in chunks of 256, the answer in
chunks of 16. `fill_cache` writes random key and value rows straight into the caches instead of running
the model: what is measured is how many rows the caches keep, which does not depend on their values.
Prints one JSON object: the live bytes (rows the next query needs) and the overhead (retained and pinned
rows, free buffer room) at the end and at its highest, in bytes and MiB, and one window's worth of
sliding rows for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys

import mlx.core as mx

from engine.checkpoint.shapes import FULL, get_shape
from engine.decode.cache import (
    FullCache,
    QuantizedFullCache,
    Retention,
    SlidingCache,
    live_bytes,
    overhead_bytes,
)
from engine.decode.cache import set_rollback_point

PROMPT_CHUNK = 256
ANSWER_CHUNK = 16
MIB = 1 << 20


def caches_for(shape, retention: Retention = Retention()) -> list:
    """One cache per layer of `shape`, as the model's `make_cache` gives them."""
    return [FullCache() if t == FULL else SlidingCache(shape.sliding_window, retention)
            for t in shape.layer_types]


def fill_cache(caches: list, shape, n: int, dtype=mx.bfloat16) -> None:
    """Write `n` random key/value rows into every cache (the model's geometry, no forward)."""
    for cache, layer_type in zip(caches, shape.layer_types, strict=True):
        heads, dim = ((shape.num_global_key_value_heads, shape.global_head_dim) if layer_type == FULL
                      else (shape.num_key_value_heads, shape.head_dim))
        rows = mx.random.normal((1, heads, n, dim)).astype(dtype)
        cache.update_and_fetch(rows, rows)
    mx.eval([c.state for c in caches])


def session_overhead(shape, turns: int, prompt_tokens: int, answer_tokens: int) -> dict:
    caches = caches_for(shape)
    highest = 0
    for _ in range(turns):
        set_rollback_point(caches, caches[0].offset)  # the session's rollback point: this turn's start
        for size, total in ((PROMPT_CHUNK, prompt_tokens), (ANSWER_CHUNK, answer_tokens)):
            done = 0
            while done < total:
                step = min(size, total - done)
                fill_cache(caches, shape, step)
                done += step
                highest = max(highest, overhead_bytes(caches))
    sliding = [c for c in caches if isinstance(c, SlidingCache)]
    row = 2 * shape.num_key_value_heads * shape.head_dim * 2  # K and V in bfloat16
    window_bytes = len(sliding) * shape.sliding_window * row
    live, over = live_bytes(caches), overhead_bytes(caches)
    return {
        "shape": shape.name, "turns": turns, "prompt_tokens": prompt_tokens,
        "answer_tokens": answer_tokens, "tokens": caches[0].offset,
        "live_bytes": live, "overhead_bytes": over, "highest_overhead_bytes": highest,
        "live_mib": round(live / MIB, 1), "overhead_mib": round(over / MIB, 1),
        "highest_overhead_mib": round(highest / MIB, 1),
        "one_window_mib": round(window_bytes / MIB, 1),
        "pinned_layers": sum(c.pinned_offset is not None for c in sliding),
        "filled_with": "fill_cache (random rows written directly, no forward)",
    }


def kv_quantization(shape, tokens: int, context: int) -> dict:
    """The full-attention layers' cache bytes for `tokens` rows, plain and quantized, scaled to `context`."""
    out = {"tokens": tokens, "context": context}
    full_layers = [t for t in shape.layer_types if t == FULL]
    for name, make in (("bfloat16", FullCache), ("8bit", lambda: QuantizedFullCache(8)),
                       ("4bit", lambda: QuantizedFullCache(4))):
        cache, done = make(), 0  # one layer: the figure is that times the number of full layers
        while done < tokens:
            n = min(4096, tokens - done)
            rows = mx.random.normal((1, shape.num_global_key_value_heads, n, shape.global_head_dim))
            cache.update_and_fetch(rows.astype(mx.bfloat16), rows.astype(mx.bfloat16))
            mx.eval(cache.state)
            done += n
        per_token = cache.live_bytes * len(full_layers) / tokens
        out[f"{name}_gib_at_context"] = round(per_token * context / (1 << 30), 2)
    sliding = sum(t != FULL for t in shape.layer_types)
    out["sliding_gib"] = round(sliding * (shape.sliding_window - 1) * 2 * shape.num_key_value_heads
                               * shape.head_dim * 2 / (1 << 30), 2)
    out["note"] = (f"measured on {tokens} rows of one full-attention layer, scaled linearly to the "
                   f"context and the {len(full_layers)} full layers (rows are independent)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench.memory", description=__doc__)
    parser.add_argument("--shape", default="12b")
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--prompt-tokens", type=int, default=400)
    parser.add_argument("--answer-tokens", type=int, default=300)
    parser.add_argument("--kv-tokens", type=int, default=32768, help="rows filled for the KV figure")
    parser.add_argument("--context", type=int, default=262144, help="context the KV figure is scaled to")
    parser.add_argument("--long-answer-tokens", type=int, default=2000,
                        help="a last turn whose answer is longer than the window")
    args = parser.parse_args(argv)
    shape = get_shape(args.shape)
    out = {
        "typical": session_overhead(shape, args.turns, args.prompt_tokens, args.answer_tokens),
        "long_last_turn": session_overhead(shape, 2, args.prompt_tokens, args.long_answer_tokens),
        "kv_quantization": kv_quantization(shape, args.kv_tokens, args.context),
    }
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
