"""One measurement in its own process: `python -m engine.bench.worker SIDE KIND MODEL PARAMS_JSON`.

Runs one measurement function of `tandem_side` or `peer`, adds the process's memory figures (MLX peak and
active memory, RSS peak) and the load average, and prints one line `BENCH_RESULT <json>` on stdout. An
exception becomes `{"error": ...}` in the same line, so the runner always gets an answer it can parse.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

MARKER = "BENCH_RESULT "


def measure(side: str, kind: str, model: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The metrics of one measurement, with the memory read-outs added."""
    from . import common
    from .environment import load_average

    if side == "tandem":
        from .tandem_side import MEASURES
    elif side == "mlx-vlm":
        from .peer import MEASURES
    else:
        raise ValueError(f"unknown side {side!r}")
    if kind not in MEASURES:
        return {"skipped": f"{side} has no {kind} measurement"}
    load_before = load_average()
    start = time.perf_counter()
    result = MEASURES[kind](model, params)
    result.update(common.memory())
    result.update(
        wall_s=time.perf_counter() - start, loadavg_before=load_before, loadavg_after=load_average()
    )
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    side, kind, model, params = argv[0], argv[1], Path(argv[2]), json.loads(argv[3])
    try:
        result = measure(side, kind, model, params)
    except Exception as e:  # noqa: BLE001 -- reported, not raised: the runner records the failure and goes on
        result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=8)}
    print(MARKER + json.dumps(result, default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
