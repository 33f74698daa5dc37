"""What the agent's safety costs, measured: prints one JSON object.

    python -m app.agent.bench [--files 10000] [--runs 20]

- undo: a workspace of `--files` small files (in folders of 100); the first command's scan (which
  copies every file once), a command that changes nothing, one that changes 10 files, an undo of
  it; times in milliseconds, the store's size on disk;
- regex: the search tool on `(a+)+$` against lines of 28 and 5,000 "a"s followed by "!", and
  Python's own `re` on shorter lines for comparison (it doubles with each character);
- commands: the time to start and end `true`, unconfined and in the system's sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from app.agent import files
from app.agent.runner import CommandRunner
from app.agent.sandbox import Sandbox
from app.agent.undo import UndoPoints
from app.agent.workspace import Workspace


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def bench_undo(root: Path, n_files: int) -> dict:
    ws, data = root / "ws", root / "data"
    ws.mkdir()
    payload = 0
    for i in range(n_files):
        folder = ws / f"pkg{i // 100:03d}"
        folder.mkdir(exist_ok=True)
        text = (f"# module {i}\n" + "value = %d\n" % i * (i % 200)).encode()
        (folder / f"m{i}.py").write_bytes(text)
        payload += len(text)
    time.sleep(2.5)  # older than undo's "changed just now" window, as a real workspace's files are
    up = UndoPoints(ws, data)
    up.mark("start")
    t = time.perf_counter()
    with up.watching():
        pass
    first = _ms(t)
    t = time.perf_counter()
    with up.watching():
        pass
    unchanged = _ms(t)
    t = time.perf_counter()
    with up.watching():
        for i in range(10):
            (ws / "pkg000" / f"m{i}.py").write_text(f"changed {i}\n")
    up.mark("ten changed")
    ten = _ms(t)
    t = time.perf_counter()
    undone = up.undo_last()
    undo = _ms(t)
    assert len(undone.restored) == 10
    return {
        "files": n_files,
        "workspace_bytes": payload,
        "first_command_scan_ms": first,
        "unchanged_command_scan_ms": unchanged,
        "ten_changed_scan_and_mark_ms": ten,
        "undo_ten_ms": undo,
        "store_disk_bytes": _disk_bytes(up.store.folder),
        "index_bytes": (up.store.folder / "index.json").stat().st_size,
    }


def bench_regex(root: Path) -> dict:
    ws = root / "re"
    ws.mkdir()
    out: dict = {}
    for n in (28, 5000):
        (ws / "a.txt").write_text("a" * n + "!\n")
        t = time.perf_counter()
        files.search(Workspace(ws), r"(a+)+$", regex=True)
        out[f"search_{n}_chars_ms"] = _ms(t)
    pattern = re.compile(r"(a+)+$")
    for n in (16, 18, 20):
        t = time.perf_counter()
        pattern.search("a" * n + "!")
        out[f"python_re_{n}_chars_ms"] = _ms(t)
    return out


def bench_commands(root: Path, runs: int) -> dict:
    ws = root / "cmd"
    ws.mkdir()
    out: dict = {"sandbox": Sandbox.detect().kind}
    for name, use in (("unconfined", False), ("sandboxed", None)):
        runner = CommandRunner(ws, use_sandbox=use, kill_grace_s=0.2)
        if name == "sandboxed" and not runner.sandbox.confined:
            continue
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            runner.run("true", 10)
            times.append((time.perf_counter() - t) * 1000)
        runner.close()
        out[f"{name}_true_ms_median"] = round(statistics.median(times), 1)
    if "sandboxed_true_ms_median" in out:
        out["sandbox_overhead_ms"] = round(
            out["sandboxed_true_ms_median"] - out["unconfined_true_ms_median"], 1
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tandem-agent-bench-") as tmp:
        root = Path(tmp)
        result = {
            "machine": {"cpus": os.cpu_count()},
            "undo": bench_undo(root, args.files),
            "regex": bench_regex(root),
            "commands": bench_commands(root, args.runs),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
