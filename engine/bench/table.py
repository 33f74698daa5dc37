"""`python -m engine.bench.table RESULT.json [...]`: the Markdown table of `tandem bench` JSON documents.

One row per figure: what was measured (with the sizes actually used), each side's median with its samples,
and the ratio Tandem/peer; then the run's machine, load average and versions as a caption.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# Second rows worth showing: the RSS peak next to the MLX peak, and Tandem's own re-prefill next to the kept
# cache (the turn-10 target compares those two).
EXTRA_ROWS = {
    "load": ("mx_peak_gb", "rss_peak_gb"),
    "peak_memory": ("rss_peak_gb",),
    "decode_64": ("mx_peak_gb", "rss_peak_gb"),
    "turn10": ("ttft_reprefill_s",),
    "drafter": ("draft_over_decode", "speedup_a0.5", "speedup_a0.7", "speedup_a0.9"),
}


def _unit(metric: str, default: str) -> str:
    return "GB" if metric.endswith("_gb") else "s" if metric.endswith("_s") else default


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _cell(summary: dict[str, Any] | None, unit: str) -> str:
    if not summary or summary["median"] is None:
        return "–"
    samples = ", ".join(_fmt(s) for s in summary["samples"])
    return f"**{_fmt(summary['median'])}** {unit} ({samples})"


def _params(fig: dict[str, Any]) -> str:
    shown = {k: v for k, v in fig["params"].items() if k != "dtype"}
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    return text + (" (reduced)" if fig.get("reduced") else "")


SHAPES = {3840: "12b", 1536: "small"}  # hidden_size of the checkpoint writer's shapes


def shape(doc: dict[str, Any]) -> str:
    hidden = doc["checkpoint"].get("hidden_size")
    return SHAPES.get(hidden, f"hidden {hidden}")


def rows(doc: dict[str, Any]) -> list[str]:
    out = [
        "| figure | sizes used | Tandem median (samples) | mlx-vlm median (samples) | Tandem/mlx-vlm |",
        "|---|---|---|---|---|",
    ]
    for fig in doc["figures"]:
        t = fig["sides"].get("tandem", {})
        p = fig["sides"].get("mlx-vlm", {})
        m = fig["metric"]
        ratio = fig.get("ratio", {}).get(m)
        better = (
            ""
            if ratio is None
            else (" ✓" if (ratio >= 1) == fig["higher_is_better"] or ratio == 1 else " ✗")
        )
        label = f"{shape(doc)}: {fig['figure']} ({m})"
        skipped = t.get("skipped")
        tandem = f"skipped: {skipped}" if skipped else _cell(t.get(m), fig["unit"])
        out.append(
            f"| {label} | {_params(fig)} | {tandem} | {_cell(p.get(m), fig['unit'])} | "
            f"{_fmt(ratio)}{better} |"
        )
        for extra in EXTRA_ROWS.get(fig["figure"], ()):
            r = fig.get("ratio", {}).get(extra)
            out.append(
                f"| {shape(doc)}: {fig['figure']} ({extra}) | {_params(fig)} | {_cell(t.get(extra), _unit(extra, fig['unit']))} | "
                f"{_cell(p.get(extra), _unit(extra, fig['unit']))} | {_fmt(r)} |"
            )
    return out


def caption(doc: dict[str, Any]) -> str:
    m, v, c = doc["machine"], doc["versions"], doc["checkpoint"]
    return (
        f"{shape(doc)} checkpoint: hidden {c.get('hidden_size')}, {c.get('num_hidden_layers')} layers, "
        f"quantization {c.get('quantization')}, {c.get('weights_gb')} GB, random weights. "
        f"Device {doc['device']}, {m['cpu_count']} cores, {m.get('memory_gb')} GB; Tandem dtype "
        f"{doc['tandem_dtype']}, mlx-vlm params cast to {doc.get('peer_dtype')}. Repetitions per side: {doc['reps']} "
        f"(alternating order). Load average {doc.get('loadavg_start')} at start, {doc.get('loadavg_end')} at end. "
        f"Run {doc['started_utc']} – {doc.get('finished_utc')}. Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if val)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "results", type=Path, nargs="+", help="one or more JSON documents (rows in order)"
    )
    docs = [json.loads(p.read_text()) for p in parser.parse_args(argv).results]
    table = rows(docs[0])
    for doc in docs[1:]:
        table += rows(doc)[2:]
    print("\n".join(table))
    for doc in docs:
        print()
        print(caption(doc))


if __name__ == "__main__":
    main()
