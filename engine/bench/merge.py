"""`python -m engine.bench.merge OUT.json IN.json [IN.json ...]`: several runs of `tandem bench` as one document.

Figures measured in several invocations on the same checkpoint (same name and sizes) have their samples pooled
and their medians and ratios recomputed; the metadata of each input is kept under `inputs`, and the figures
appear in the registry's order. Used when a slow machine splits one benchmark into several invocations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .figures import BY_NAME, FIGURES
from .report import document, figure_entry


def merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One document whose figures pool the runs of every input with the same figure name and sizes."""
    paths = {d["checkpoint"].get("path") for d in docs}
    if len(paths) > 1:
        raise ValueError(f"the inputs measured different checkpoints: {sorted(map(str, paths))}")
    pooled: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in docs:
        for fig in doc["figures"]:
            key = (fig["figure"], json.dumps(fig["params"], sort_keys=True))
            slot = pooled.setdefault(
                key, {"params": fig["params"], "quick": fig.get("quick", False), "runs": {}}
            )
            for side, entry in fig["sides"].items():
                slot["runs"].setdefault(side, []).extend(entry["runs"])
    order = {f.name: i for i, f in enumerate(FIGURES)}
    figures = [
        figure_entry(BY_NAME[name], slot["params"], slot["quick"], slot["runs"])
        for (name, _), slot in sorted(pooled.items(), key=lambda kv: order[kv[0][0]])
    ]
    meta = {k: v for k, v in docs[0].items() if k not in ("figures", "schema")}
    meta["reps"] = "pooled, see each figure's samples"
    meta["started_utc"] = min(d["started_utc"] for d in docs)
    meta["finished_utc"] = max((d.get("finished_utc") or "") for d in docs) or None
    meta["loadavg_start"] = [d.get("loadavg_start") for d in docs]
    meta["loadavg_end"] = [d.get("loadavg_end") for d in docs]
    meta["inputs"] = [
        {
            k: d.get(k)
            for k in ("command", "started_utc", "finished_utc", "loadavg_start", "loadavg_end")
        }
        for d in docs
    ]
    return document(meta, figures)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("inputs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    doc = merge([json.loads(p.read_text()) for p in args.inputs])
    args.out.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
