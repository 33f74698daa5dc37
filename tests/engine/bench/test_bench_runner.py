"""engine.bench.runner and worker on the tiny shape: one real subprocess per measurement, no timings checked."""

import argparse
import json
import sys

import pytest

from engine.bench import common
from engine.bench.runner import run_measurement


@pytest.fixture(scope="module")
def tiny_q4(tmp_path_factory):
    from engine.checkpoint import make_checkpoint

    return make_checkpoint(
        tmp_path_factory.mktemp("bench") / "tiny-q4", shape="tiny", seed=0, bits=4
    )


def test_decode_measurement_in_a_subprocess(tiny_q4):
    result = run_measurement("tandem", "decode", tiny_q4, {"context": 40, "tokens": 4}, timeout=300)
    assert "error" not in result, result
    assert result["tokens"] == 4 and len(result["step_s"]) == 3 and result["tok_s"] > 0
    assert result["mx_peak_gb"] > 0 and result["rss_peak_gb"] > 0 and result["process_s"] > 0


def test_errors_come_back_as_entries(tiny_q4):
    assert "skipped" in run_measurement("tandem", "no_such_kind", tiny_q4, {}, timeout=120)
    bad = run_measurement("tandem", "prefill", tiny_q4 / "missing", {"tokens": 4}, timeout=120)
    assert "error" in bad


def test_fill_cache_adds_positions():
    import mlx.core as mx
    from mlx_lm.models.cache import KVCache, RotatingKVCache

    from engine.decode.cache import FullCache, SlidingCache

    caches = [KVCache(), RotatingKVCache(max_size=8), FullCache(), SlidingCache(8)]  # the peer's and ours
    for c in caches:
        c.update_and_fetch(mx.zeros((1, 2, 1, 4)), mx.zeros((1, 2, 1, 4)))
    common.fill_cache(caches, 20)
    assert [c.offset for c in caches] == [21, 21, 21, 21]
    assert common.tokens_per_second([0.0, 0.5, 1.0, 1.5]) == 2.0


def test_rss_growth_sees_memory_freed_before_the_end():
    import time

    import numpy as np

    with common.RssGrowth() as growth:
        block = np.ones(200_000_000 // 8)  # 200 MB, touched
        time.sleep(0.05)
        del block
    if common.rss_now_gb() is None:
        pytest.skip("no /proc: only the process-wide peak is available here")
    assert 0.15 < growth.gb < 0.5


def test_cli_writes_one_document(tiny_q4, tmp_path, capsys):
    from engine.bench import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "bench.json"
    args = parser.parse_args(
        [
            "--model",
            str(tiny_q4),
            "--quick",
            "--reps",
            "2",
            "--figures",
            "load,decode_64",
            "--set",
            "decode_64.tokens=3",
            "--json",
            str(out),
        ]
    )
    assert cli.run(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads(out.read_text())
    assert [f["figure"] for f in doc["figures"]] == ["load", "decode_64"]
    decode = doc["figures"][1]
    assert decode["params"]["tokens"] == 3 and decode["reduced"]
    assert decode["sides"]["tandem"]["tok_s"]["n"] == 2
    assert (
        doc["machine"]["cpu_count"] >= 1
        and doc["versions"]["mlx"]
        and doc["tandem_dtype"] == "float32"
    )
    assert doc["reps"] == 2 and doc["quick"] and len(doc["loadavg_start"]) == 3


def test_cli_rejects_unknown_figures(tiny_q4, capsys):
    from engine.bench import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(["--model", str(tiny_q4), "--figures", "nope"])) == 2
    assert "nope" in capsys.readouterr().err


def test_peer_module_is_not_imported_by_the_cli():
    import subprocess

    code = "import engine.bench.cli, sys; print('mlx_vlm' in sys.modules, 'engine.bench.peer' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
