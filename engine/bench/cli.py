"""`tandem bench --model DIR [--peer mlx-vlm] [--json OUT] [--quick] [--reps N] [--figures a,b,...]`.

For each figure, runs Tandem and (with `--peer`) mlx-vlm's gemma4_unified port on the same checkpoint folder,
each measurement in its own process, the two sides alternating (T P, P T, ...) for `--reps` repetitions.
Prints one JSON document (`engine.bench.report`) on stdout and, with `--json`, writes it to OUT after every
measurement, so an interrupted run keeps what it measured. Progress goes to stderr. Returns 0, or 1 when a
measurement failed (its error is in the JSON), or 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import environment
from .figures import PEER, TANDEM, Figure, select
from .report import document, figure_entry
from .runner import run_measurement

QUICK_REPS = 2
FULL_REPS = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, help="checkpoint folder (HF or MLX-quantized layout)"
    )
    parser.add_argument("--peer", choices=[PEER], default=None, help="also measure mlx-vlm's port")
    parser.add_argument(
        "--json", dest="json_out", default=None, help="also write the JSON document here"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="reduced token counts for a small checkpoint on a CPU (recorded in the JSON)",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=None,
        help=f"repetitions per side and figure (default {FULL_REPS}, {QUICK_REPS} with --quick)",
    )
    parser.add_argument(
        "--figures", default=None, help="comma-separated figure names (default: all)"
    )
    parser.add_argument(
        "--peer-dtype",
        default="float32",
        choices=["float32", "bfloat16", "float16", "stored"],
        help="dtype mlx-vlm's parameters are cast to after loading (default float32)",
    )
    parser.add_argument(
        "--peer-first",
        action="store_true",
        help="the peer runs first on even repetitions (to balance a short run made of two invocations)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per measurement process"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIGURE.PARAM=VALUE",
        help="override one figure parameter, e.g. decode_64.tokens=4 (repeatable)",
    )


def _overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, _, value = item.partition("=")
        name, _, param = key.partition(".")
        if not (name and param and value):
            raise ValueError(f"--set expects FIGURE.PARAM=VALUE, got {item!r}")
        out.setdefault(name, {})[param] = json.loads(value)
    return out


def _checkpoint(path: Path) -> dict[str, Any]:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return {"path": str(path)}
    text = config.get("text_config", {})
    size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
    return {
        "path": str(path.resolve()),
        "hidden_size": text.get("hidden_size"),
        "num_hidden_layers": text.get("num_hidden_layers"),
        "vocab_size": text.get("vocab_size"),
        "quantization": config.get("quantization"),
        "random_weights": bool(config.get("tandem_random_weights", False)),
        "weights_gb": round(size / 1e9, 3),
        "drafter": (path / "drafter" / "config.json").is_file(),
    }


def _meta(args: argparse.Namespace, reps: int, started: str) -> dict[str, Any]:
    import mlx.core as mx

    from engine.loading import default_dtype

    return {
        "command": "tandem bench "
        + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]),
        "started_utc": started,
        "quick": args.quick,
        "reps": reps,
        "order": "alternating per repetition, "
        + ("the peer" if args.peer_first else "tandem")
        + " first on even repetitions",
        "checkpoint": _checkpoint(Path(args.model)),
        "tandem_dtype": str(default_dtype()).removeprefix("mlx.core."),
        "peer": args.peer,
        "peer_dtype": args.peer_dtype if args.peer else None,
        "device": str(mx.default_device()),
        "machine": environment.machine(),
        "versions": environment.versions(),
        "loadavg_start": environment.load_average(),
        "what_runs": {
            TANDEM: (sys.modules["engine.bench"].__doc__ or "").split("\n")[0],
            "tandem_detail": _doc("engine.bench.tandem_side"),
            "peer_detail": _doc("engine.bench.peer") if args.peer else None,
        },
    }


def _doc(module: str) -> str:
    """A module's docstring without importing it (the peer module imports mlx-vlm only when it runs)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module)
    source = Path(spec.origin).read_text() if spec and spec.origin else ""
    return ast.get_docstring(ast.parse(source)) or ""


def _sides(figure: Figure, peer: str | None, rep: int, peer_first: bool = False) -> list[str]:
    sides = [TANDEM] + ([peer] if peer and figure.peer else [])
    return sides if (rep + peer_first) % 2 == 0 else sides[::-1]


def run(args: argparse.Namespace) -> int:
    model = Path(args.model)
    if not (model / "config.json").is_file():
        print(f"tandem bench: {model} is not a checkpoint folder (no config.json)", file=sys.stderr)
        return 2
    try:
        figures = select(args.figures)
        overrides = _overrides(args.overrides)
    except ValueError as e:
        print(f"tandem bench: {e}", file=sys.stderr)
        return 2
    reps = args.reps or (QUICK_REPS if args.quick else FULL_REPS)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    meta = _meta(args, reps, started)
    entries: list[dict[str, Any]] = []
    failed = False
    for figure in figures:
        params = {**figure.params(args.quick), **overrides.get(figure.name, {})}
        peer_params = {**params, "dtype": args.peer_dtype}
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in _sides(figure, args.peer, 0)}
        for rep in range(reps):
            for side in _sides(figure, args.peer, rep, args.peer_first):
                start = time.perf_counter()
                result = run_measurement(
                    side,
                    figure.kind,
                    model,
                    peer_params if side == PEER else params,
                    timeout=args.timeout,
                )
                result["rep"] = rep
                runs[side].append(result)
                failed |= "error" in result
                shown = result.get("error") or result.get("skipped") or result.get(figure.metric)
                print(
                    f"[bench] {figure.name} rep {rep + 1}/{reps} {side}: {shown} "
                    f"({time.perf_counter() - start:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            if all("skipped" in r for side_runs in runs.values() for r in side_runs):
                break  # nothing to repeat
            _write(args, meta, entries + [figure_entry(figure, params, args.quick, runs)])
        entries.append(figure_entry(figure, params, args.quick, runs))
    meta["finished_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    meta["loadavg_end"] = environment.load_average()
    doc = _write(args, meta, entries)
    print(json.dumps(doc, indent=1))
    return 1 if failed else 0


def _write(
    args: argparse.Namespace, meta: dict[str, Any], entries: list[dict[str, Any]]
) -> dict[str, Any]:
    doc = document(meta, entries)
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(out)
    return doc
