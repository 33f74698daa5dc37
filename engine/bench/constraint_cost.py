"""What constrained decoding costs per token: llguidance's mask, and applying it to the logits.

`python -m engine.bench.constraint_cost [--model DIR | --shape 12b] [--tokens N] [--seed S]`
walks each constraint (a JSON schema, a forced tool call) through random allowed tokens and times,
per token: building the mask (`allowed()`, llguidance plus unpacking to a bool array), applying it to
one row of logits the size of the vocabulary (MLX, evaluated), and `advance()`. With `--shape`, the
tokenizer is the one a generated checkpoint of that shape has (the real vocabulary size and special
tokens, filler pieces for the rest). Prints one JSON object: per constraint, the one-time build
seconds and per-token medians and 90th percentiles in microseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

JSON_SPEC = {
    "type": "json_schema",
    "schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 40},
            "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
            "rating": {"type": "number"},
        },
        "required": ["title", "year"],
    },
}
TOOL_SPEC = {
    "type": "tool_call",
    "tools": [{"type": "function", "function": {"name": "run_command", "parameters": {
        "type": "object",
        "properties": {"command": {"type": "string", "maxLength": 80},
                       "timeout": {"type": "integer", "minimum": 1, "maximum": 600}},
        "required": ["command"]}}}],
}
ENDS = ("<turn|>", "<|tool_response>")


def _tokenizer(args):
    from engine.inputs.prompt import load_tokenizer

    if args.model:
        config = json.loads((Path(args.model) / "config.json").read_text())
        return load_tokenizer(args.model), config["text_config"]["vocab_size"], args.model
    from engine.checkpoint.shapes import get_shape
    from engine.checkpoint.tokenizer import write_tokenizer

    shape = get_shape(args.shape)
    folder = Path(tempfile.mkdtemp(prefix="tandem-tokenizer-"))
    write_tokenizer(folder, shape)
    return load_tokenizer(folder), shape.vocab_size, f"generated {shape.name} tokenizer"


def _quantiles(values: list[float]) -> dict:
    us = sorted(v * 1e6 for v in values)
    return {"median_us": round(statistics.median(us), 1),
            "p90_us": round(us[int(0.9 * (len(us) - 1))], 1)}


def measure(spec: dict, tokenizer, vocab: int, tokens: int, seed: int) -> dict:
    import mlx.core as mx
    import numpy as np

    from engine.decode.grammar import build_constraint

    started = time.perf_counter()
    constraint = build_constraint(spec, tokenizer, vocab)
    build = time.perf_counter() - started
    ends = {tokenizer.convert_tokens_to_ids(t) for t in ENDS}
    rng = np.random.default_rng(seed)
    logits = mx.random.normal((1, vocab))
    mx.eval(logits)
    mask_s, apply_s, advance_s, walks = [], [], [], 1
    while len(mask_s) < tokens:
        t0 = time.perf_counter()
        allowed = constraint.allowed()
        t1 = time.perf_counter()
        masked = mx.where(mx.array(allowed), logits, mx.array(-mx.inf, logits.dtype))
        mx.eval(masked)
        t2 = time.perf_counter()
        token = int(rng.choice(np.flatnonzero(allowed)))
        mask_s.append(t1 - t0)
        apply_s.append(t2 - t1)
        if token in ends:  # the walk ended: start another one
            constraint, walks = build_constraint(spec, tokenizer, vocab), walks + 1
            continue
        t3 = time.perf_counter()
        constraint.advance(token)
        advance_s.append(time.perf_counter() - t3)
    return {"build_seconds": round(build, 4), "tokens": len(mask_s), "walks": walks,
            "mask": _quantiles(mask_s), "apply": _quantiles(apply_s),
            "advance": _quantiles(advance_s)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="checkpoint folder whose tokenizer to use")
    p.add_argument("--shape", default="12b", help="generated tokenizer of this shape (no --model)")
    p.add_argument("--tokens", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    import llguidance
    import mlx.core as mx

    tokenizer, vocab, source = _tokenizer(args)
    result = {
        "tokenizer": source,
        "vocab_size": vocab,
        "device": str(mx.default_device()),
        "llguidance": llguidance.get_version(),
        "json_schema": measure(JSON_SPEC, tokenizer, vocab, args.tokens, args.seed),
        "tool_call": measure(TOOL_SPEC, tokenizer, vocab, args.tokens, args.seed),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
