"""engine.bench.stats and engine.bench.figures: medians, spreads, ratios and figure selection."""

import pytest

from engine.bench.figures import BY_NAME, FIGURES, select
from engine.bench.stats import median, ratio, spread, summarize


def test_median_spread_ratio():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 4.0]) == 2.5
    assert median([]) is None
    assert spread([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert spread([]) is None
    assert ratio(2.0, 4.0) == 0.5
    assert ratio(None, 4.0) is None and ratio(2.0, 0.0) is None


def test_summarize_keeps_every_sample():
    s = summarize([0.5, 0.25, 1.0])
    assert s["samples"] == [0.5, 0.25, 1.0]
    assert (s["n"], s["median"], s["min"], s["max"]) == (3, 0.5, 0.25, 1.0)
    assert summarize([])["median"] is None


def test_figures_cover_the_issue():
    names = {f.name for f in FIGURES}
    assert {
        "load",
        "peak_memory",
        "prefill_512",
        "prefill_2048",
        "decode_64",
        "decode_2048",
        "image_embed",
        "audio_project",
        "ttft_image",
        "voice_3s",
        "voice_30s",
        "turn10",
        "drafter",
    } <= names
    assert BY_NAME["prefill_2048"].full["tokens"] == 2048
    assert BY_NAME["decode_2048"].full["context"] == 2048
    assert BY_NAME["voice_30s"].full["seconds"] == 30.0
    assert not BY_NAME["drafter"].peer


def test_select_keeps_registry_order_and_rejects_unknown_names():
    assert [f.name for f in select("decode_64,load")] == ["load", "decode_64"]
    assert len(select(None)) == len(FIGURES)
    with pytest.raises(ValueError, match="nope"):
        select("load,nope")
