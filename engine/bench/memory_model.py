"""Memory figures on a real checkpoint (12b at 4-bit with random weights): `python -m engine.bench.memory_model
--model DIR [--tokens 32768] [--conversations 10] [--budget-gb 1.5] [--dtype bfloat16]`.

The model is computed in `--dtype`, bfloat16 by default: what a Mac's GPU computes in (`engine.loading`'s default
there). On a CPU the loader's default is float32, which doubles the scales, biases and norms of the weights and
every key and value row, so a figure taken with it would not be a Mac's.

(a) one conversation of `--tokens` tokens: its caches filled with `fill_model_caches` (random key and value
rows written straight into every cache that owns some, no forward: hours of CPU prefill otherwise), then
one real turn (a short message, 4 answer tokens) through `Session.send`; MLX's peak memory over the
whole run, the weights' load included. (b) `--conversations` conversations opened one after another, each
filled the same way in three turns of 500 tokens past the window (the rollback point set at each turn's
start, as the session does), kept by `SessionBudget` within `--budget-gb`: active memory after the last.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from types import SimpleNamespace

import mlx.core as mx
import numpy as np

from engine.decode.cache import set_rollback_point

GB = 1e9


def fill_model_caches(model, caches: list, n: int, chunk: int = 256, dtype=mx.bfloat16) -> None:
    """Write `n` random `dtype` rows into each cache, with the model's key/value geometry (no forward), `chunk` rows
    at a time as a session's prefill feeds them (`SessionOptions.chunk_tokens`): a sliding cache's buffer is
    sized for the largest chunk it was given, so bigger steps would measure a buffer no session leaves."""
    lm = model.language_model
    for c, layer in zip(caches, lm.cache_layers(), strict=True):
        attn = lm.layers[layer].self_attn
        heads, dim = attn.n_kv_heads, attn.head_dim
        done = 0
        while done < n:
            step = min(chunk, n - done)
            rows = mx.random.normal((1, heads, step, dim)).astype(dtype)
            c.update_and_fetch(rows, rows)
            mx.eval(c.state)
            done += step


def one_long_conversation(loaded, tokens: int, dtype) -> dict:
    from engine import protocol as ev
    from engine.session import Session, SessionOptions
    from engine.session.segments import Segment

    s = Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, SessionOptions())
    fill_model_caches(loaded.model, s.cache, tokens, s.options.chunk_tokens, dtype)
    s.offset, s.segments = tokens, [Segment(np.zeros((tokens,), np.int32))]
    s.messages = [{"role": "user", "content": "(filled)"}, {"role": "assistant", "content": "(filled)"}]
    settings = ev.GenerationSettings(temperature=0.0, max_tokens=4, use_drafter=False)
    events = list(s.send("One more question, please.", settings))
    finished = [e for e in events if isinstance(e, ev.TurnFinished)]
    return {"tokens": s.offset, "finished": finished[0].reason if finished else None,
            "cache_gb": round(sum(c.nbytes for c in s.cache) / GB, 3),
            "cache_dtypes": sorted({str(c.state[0].dtype).removeprefix("mlx.core.") for c in s.cache}),
            "active_gb": round(mx.get_active_memory() / GB, 3)}


def many_conversations(loaded, count: int, budget_bytes: int, dtype) -> dict:
    from engine.session_budget import SessionBudget

    window = loaded.model.config.text_config.window
    budget = SessionBudget(budget_bytes, tempfile.mkdtemp(prefix="tandem-bench-kv-"))
    sessions: dict = {}
    evicted = 0
    for i in range(count):
        sid = f"c{i}"
        sessions[sid] = SimpleNamespace(cache=loaded.model.make_cache())
        list(budget.ensure_loaded(sid, sessions))
        for _ in range(3):
            set_rollback_point(sessions[sid].cache, sessions[sid].cache[0].offset)
            fill_model_caches(loaded.model, sessions[sid].cache, 500, dtype=dtype)
        evicted += len(list(budget.enforce(sessions, keep=sid)))
    mx.clear_cache()
    return {"conversations": count, "tokens_each": 1500, "window": window,
            "budget_gb": round(budget_bytes / GB, 3), "evicted": evicted,
            "active_gb": round(mx.get_active_memory() / GB, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench.memory_model", description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", type=int, default=32768)
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--budget-gb", type=float, default=1.5)
    parser.add_argument("--dtype", default="bfloat16", help="compute dtype (a Mac's GPU: bfloat16)")
    args = parser.parse_args(argv)
    from engine.loading import load_everything, resolve_dtype

    dtype = resolve_dtype(args.dtype)
    mx.reset_peak_memory()
    loaded = load_everything(args.model, dtype=args.dtype)
    weights = mx.get_active_memory()
    out = {"model": args.model, "dtype": args.dtype, "weights_gb": round(weights / GB, 3),
           "filled_with": "fill_model_caches (random rows written directly; the last turn is a real forward)"}
    out["a_one_conversation"] = one_long_conversation(loaded, args.tokens, dtype)
    out["a_one_conversation"]["peak_gb"] = round(mx.get_peak_memory() / GB, 3)
    mx.clear_cache()
    out["b_many_conversations"] = many_conversations(loaded, args.conversations, int(args.budget_gb * GB), dtype)
    out["b_many_conversations"]["above_weights_gb"] = round(
        out["b_many_conversations"]["active_gb"] - weights / GB, 3)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
