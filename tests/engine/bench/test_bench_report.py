"""engine.bench.report: the JSON shape of one figure and of the document, from fake worker results."""

import json

from engine.bench.figures import BY_NAME
from engine.bench.report import SCHEMA, document, figure_entry


def _run(tok_s, rep, **extra):
    return {"tok_s": tok_s, "mx_peak_gb": 1.0, "rss_peak_gb": 1.5, "rep": rep, **extra}


def test_figure_entry_has_samples_medians_and_ratio():
    fig = BY_NAME["decode_64"]
    runs = {
        "tandem": [_run(2.0, 0), _run(4.0, 1), _run(3.0, 2)],
        "mlx-vlm": [_run(1.0, 0), _run(2.0, 1), {"error": "boom", "rep": 2}],
    }
    entry = figure_entry(fig, fig.params(quick=True), True, runs)
    t, p = entry["sides"]["tandem"], entry["sides"]["mlx-vlm"]
    assert t["tok_s"]["samples"] == [2.0, 4.0, 3.0] and t["tok_s"]["median"] == 3.0
    assert p["tok_s"]["samples"] == [1.0, 2.0] and p["errors"] == ["boom"]
    assert entry["ratio"]["tok_s"] == 2.0  # 3.0 / 1.5
    assert entry["ratio"]["mx_peak_gb"] == 1.0
    assert entry["higher_is_better"] and entry["unit"] == "tok/s"
    assert entry["reduced"] == (fig.quick != fig.full)
    json.dumps(entry)  # plain JSON all the way down


def test_tandem_only_figure_has_no_ratio():
    fig = BY_NAME["drafter"]
    entry = figure_entry(
        fig, fig.params(quick=False), False, {"tandem": [{"skipped": "no drafter"}]}
    )
    assert "ratio" not in entry
    assert entry["sides"]["tandem"]["skipped"] == "no drafter"
    assert entry["reduced"] is False


def test_document_wraps_meta_and_figures():
    doc = document({"device": "cpu", "reps": 2}, [])
    assert doc["schema"] == SCHEMA and doc["device"] == "cpu" and doc["figures"] == []


def test_merge_pools_runs_of_the_same_figure_and_sizes():
    from engine.bench.merge import merge

    fig = BY_NAME["decode_64"]
    params = fig.params(quick=True)

    def doc(tok_s, started):
        entry = figure_entry(
            fig, params, True, {"tandem": [_run(tok_s, 0)], "mlx-vlm": [_run(1.0, 0)]}
        )
        meta = {"checkpoint": {"path": "/ckpt"}, "started_utc": started, "finished_utc": started}
        return document(meta, [entry])

    merged = merge([doc(2.0, "2026-01-01T00:00:00"), doc(4.0, "2026-01-01T01:00:00")])
    (entry,) = merged["figures"]
    assert entry["sides"]["tandem"]["tok_s"]["samples"] == [2.0, 4.0]
    assert entry["ratio"]["tok_s"] == 3.0
    assert merged["started_utc"] == "2026-01-01T00:00:00" and len(merged["inputs"]) == 2
