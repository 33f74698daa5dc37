"""Launch one measurement in a fresh Python process and read its `BENCH_RESULT` line.

A fresh process per measurement means each side starts with a cold allocator, its own peak-memory counters
and nothing imported from the other implementation. A timeout or crash becomes an `error` entry.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .worker import MARKER


def run_measurement(
    side: str,
    kind: str,
    model: Path,
    params: dict[str, Any],
    *,
    timeout: float,
    python: str = sys.executable,
) -> dict[str, Any]:
    """Run `engine.bench.worker` for one measurement and return its result dict.

    Args:
        side: "tandem" or "mlx-vlm".
        kind: the measurement function (a `Figure.kind`).
        model: the checkpoint folder.
        params: the figure's parameters (JSON-serialisable).
        timeout: seconds before the process is killed.
        python: the interpreter to run.

    Returns:
        The worker's metrics, plus `process_s` (wall time of the whole process, start-up included); on a
        timeout, crash or unparsable output, a dict with `error` and the tail of stderr.
    """
    cmd = [python, "-m", "engine.bench.worker", side, kind, str(model), json.dumps(params)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {
            "error": f"timed out after {timeout:.0f} s",
            "process_s": time.perf_counter() - start,
        }
    elapsed = time.perf_counter() - start
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
            result["process_s"] = elapsed
            return result
    return {
        "error": f"no result (exit code {proc.returncode})",
        "stderr_tail": proc.stderr[-2000:],
        "process_s": elapsed,
    }
