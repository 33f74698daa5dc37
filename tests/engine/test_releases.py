"""The catalog of releases: sizes from the real shape, the recommendation, and repo ids in one place."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from engine import releases
from engine.checkpoint import SHAPES
from engine.checkpoint.tensors import drafter_tensors, target_shards
from engine.releases import GIB, RELEASES, recommend, release

REPO = Path(__file__).resolve().parents[2]


def parts() -> dict[str, int]:
    out = dict.fromkeys(("embed", "attention", "mlp", "vision", "audio", "norms"), 0)
    for spec in (s for shard in target_shards(SHAPES["12b"]) for s in shard):
        name = spec.name
        part = ("embed" if "embed_tokens" in name else "mlp" if ".mlp." in name
                else "attention" if "self_attn" in name and spec.init == "dense"
                else "vision" if "vision" in name else "audio" if "audio" in name else "norms")
        out[part] += spec.numel
    return out


def test_parameter_counts_are_the_12b_shape():
    p = parts()
    assert (releases.EMBED, releases.ATTENTION, releases.MLP, releases.VISION, releases.AUDIO,
            releases.NORMS) == (p["embed"], p["attention"], p["mlp"], p["vision"], p["audio"], p["norms"])
    assert releases.DRAFTER == sum(s.numel for s in drafter_tensors(SHAPES["12b"]))


def test_tandem_4bit_size_is_what_engine_convert_writes():
    """engine.convert quantizes the text stack's Linear/Embedding weights; the rest stays bfloat16."""
    from engine.checkpoint.tensors import mlx_name
    from engine.model.unified import should_quantize

    size = 0
    for spec in (s for shard in target_shards(SHAPES["12b"]) for s in shard):
        module = mlx_name(spec.name).replace("language_model.model.", "language_model.").removesuffix(".weight")
        if spec.init == "dense" and len(spec.shape) == 2 and should_quantize(module, spec.shape[-1], 64):
            size += releases.quantized_bytes(spec.numel, 4)
        else:
            size += 2 * spec.numel
    assert releases.TANDEM_4BIT.weights_bytes == size


def test_sizes_agree_with_what_the_model_cards_say():
    by_key = {r.key: r for r in RELEASES}
    assert 10.2 * GIB < by_key["community-4bit"].weights_bytes < 10.5 * GIB  # "about 10.4 GiB"
    assert 11.5 * GIB < by_key["8bit"].weights_bytes < 12.5 * GIB  # "about 12 GB, 3 shards"
    assert 0.75 * GIB < releases.DRAFTER_BYTES < 0.85 * GIB  # "about 837 MB"
    google = by_key["tandem-4bit"]
    # The download is the bfloat16 release with its drafter; the install needs room for both copies at once.
    assert google.download_bytes == releases.BF16_ALL + releases.DRAFTER_BYTES
    assert google.peak_disk_bytes == google.download_bytes + google.weights_bytes
    assert not by_key["optiq-4bit"].has_vision and by_key["optiq-4bit"].inputs == "text only"


@pytest.mark.parametrize("memory_gib, expected", [
    (8, None), (16, "tandem-4bit"), (18, "tandem-4bit"), (24, "8bit"), (64, "8bit"), (0, "tandem-4bit"),
])
def test_recommendation_fits_the_memory(memory_gib, expected):
    choice = recommend(memory_gib * GIB)
    assert (choice.key if choice else None) == expected
    if choice and memory_gib:
        assert choice.memory_bytes <= releases.usable_memory(memory_gib * GIB)


def test_unknown_choice_names_the_known_ones():
    with pytest.raises(ValueError, match="8bit, community-4bit, tandem-4bit, optiq-4bit"):
        release("gemma-4-12B-unified-it")


def test_total_memory_reads_sysctl_on_macos(monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="17179869184\n")

    monkeypatch.setattr(releases.sys, "platform", "darwin")
    monkeypatch.setattr(releases.subprocess, "run", fake_run)
    assert releases.total_memory() == 16 * GIB and calls == [["sysctl", "-n", "hw.memsize"]]


def test_total_memory_on_linux_is_known():
    assert releases.total_memory() > 0


def test_repo_ids_live_in_one_place():
    """No other source file names a Gemma 4 repository (tests and docs may)."""
    pattern = re.compile(r"[\w.-]+/gemma-4-12B[\w.-]*")
    offenders = []
    for path in list((REPO / "engine").rglob("*.py")) + list((REPO / "app").rglob("*.py")):
        if path.name != "releases.py" and pattern.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
