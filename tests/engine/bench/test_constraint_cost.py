"""The constrained-decoding cost benchmark runs and reports every figure per constraint."""

import json

from engine.bench import constraint_cost


def test_the_benchmark_prints_per_token_figures(tiny_checkpoint, capsys):
    assert constraint_cost.main(["--model", str(tiny_checkpoint), "--tokens", "40"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["vocab_size"] == 512
    for name in ("json_schema", "tool_call"):
        figures = out[name]
        assert figures["tokens"] == 40 and figures["build_seconds"] >= 0
        for part in ("mask", "apply", "advance"):
            assert 0 < figures[part]["median_us"] <= figures[part]["p90_us"]
