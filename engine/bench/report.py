"""Assemble the JSON document: per figure, every sample per side, medians, spreads and Tandem/peer ratios.

`figure_entry` turns the raw worker results of one figure into its JSON entry; `document` wraps the entries
with what the numbers were measured on. Ratios are Tandem's median over the peer's: above 1 is better for
Tandem when `higher_is_better`, below 1 otherwise.
"""

from __future__ import annotations

from typing import Any

from .figures import PEER, TANDEM, Figure
from .stats import ratio, summarize

SCHEMA = "tandem-bench/1"


def _numbers(runs: list[dict[str, Any]], metric: str) -> list[float]:
    return [
        float(r[metric])
        for r in runs
        if isinstance(r.get(metric), (int, float)) and "error" not in r
    ]


def side_entry(figure: Figure, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Summaries of the headline metric, the extra metrics and the memory figures, plus the raw runs."""
    metrics = (figure.metric, *figure.extra, "mx_peak_gb", "rss_peak_gb")
    entry: dict[str, Any] = {m: summarize(_numbers(runs, m)) for m in dict.fromkeys(metrics)}
    entry["errors"] = [r["error"] for r in runs if "error" in r]
    entry["skipped"] = next((r["skipped"] for r in runs if "skipped" in r), None)
    entry["runs"] = runs
    return entry


def figure_entry(
    figure: Figure, params: dict[str, Any], quick: bool, runs: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The JSON entry of one figure from the raw runs of each side."""
    sides = {side: side_entry(figure, side_runs) for side, side_runs in runs.items()}
    entry: dict[str, Any] = {
        "figure": figure.name,
        "nominal": figure.nominal,
        "params": params,
        "quick": quick,
        "reduced": params != figure.full,  # smaller than the sizes (--quick or --set)
        "full_params": figure.full,
        "metric": figure.metric,
        "unit": figure.unit,
        "higher_is_better": figure.higher_is_better,
        "notes": figure.notes,
        "sides": sides,
    }
    if TANDEM in sides and PEER in sides:
        t, p = sides[TANDEM], sides[PEER]
        entry["ratio"] = {
            m: _round(ratio(t[m]["median"], p[m]["median"]))
            for m in (figure.metric, *figure.extra, "mx_peak_gb", "rss_peak_gb")
            if m in t and m in p
        }
    return entry


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def document(meta: dict[str, Any], figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole JSON document."""
    return {"schema": SCHEMA, **meta, "figures": figures}
