"""`python -m engine.bench.plot RESULT.json [RESULT.json ...] --out PNG`: Tandem's advantage over the peer.

One horizontal bar per figure (and per result file): how many times better Tandem is than mlx-vlm on that
figure's headline metric (peer/Tandem for times and memory, Tandem/peer for tokens per second), on a log
axis with 1 marked; the whiskers span the best and worst pairing of individual samples. Needs matplotlib
(a bench-only dependency).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _advantage(tandem: float, peer: float, higher_is_better: bool) -> float:
    return tandem / peer if higher_is_better else peer / tandem


def advantages(doc: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(label, advantage, lowest, highest) per figure that both sides measured."""
    rows = []
    for fig in doc["figures"]:
        sides = fig["sides"]
        if "mlx-vlm" not in sides:
            continue
        t, p = sides["tandem"][fig["metric"]], sides["mlx-vlm"][fig["metric"]]
        if not t["median"] or not p["median"]:
            continue
        up = fig["higher_is_better"]
        pairs = [_advantage(a, b, up) for a in t["samples"] for b in p["samples"] if a and b]
        label = fig["figure"] + (" (reduced)" if fig.get("reduced") else "")
        rows.append((label, _advantage(t["median"], p["median"], up), min(pairs), max(pairs)))
    return rows


def plot(docs: list[tuple[str, dict[str, Any]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        (f"{name}: {label}", a, lo, hi)
        for name, doc in docs
        for label, a, lo, hi in advantages(doc)
    ]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.4), dpi=100)
    y = list(range(len(rows)))[::-1]
    values = [r[1] for r in rows]
    err = [[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]]
    colors = ["#2a7" if v >= 1 else "#d54" for v in values]
    ax.barh(y, [v - 1 for v in values], left=1, color=colors)  # bars grow from 1 (parity)
    ax.errorbar(values, y, xerr=err, fmt="none", ecolor="black", capsize=2, linewidth=0.8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
    ax.set_xlabel(
        "times better than mlx-vlm (>1: Tandem ahead); whiskers: sample range", fontsize=8
    )
    ax.set_title(
        "tandem bench: Tandem / mlx-vlm gemma4_unified, same checkpoint, same run", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results", nargs="+", type=Path, help="JSON documents from tandem bench --json"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--names", default=None, help="comma-separated label per result file")
    args = parser.parse_args(argv)
    names = args.names.split(",") if args.names else [p.stem for p in args.results]
    plot([(n, json.loads(p.read_text())) for n, p in zip(names, args.results)], args.out)


if __name__ == "__main__":
    main()
