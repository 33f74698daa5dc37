"""The checkpoint writer's layouts against mlx-vlm 0.7.10's own converter (`mlx_vlm_converter`), and the
text-only layout."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import pytest

from engine.checkpoint import CheckpointWriteError, make_checkpoint

pytest.importorskip("mlx_vlm")

from mlx_vlm_converter import mlx_vlm_convert


def tensors(folder: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update({k: (str(v.dtype), tuple(v.shape)) for k, v in mx.load(str(f)).items()})
    return out


def values(folder: Path) -> dict[str, mx.array]:
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(mx.load(str(f)))
    return out


@pytest.fixture(scope="module")
def float_tiny(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("layouts") / "float", "tiny", seed=5,
                           with_drafter=True)


@pytest.mark.parametrize("mixed", [None, "mixed_4_8"])
def test_quantized_layout_is_what_mlx_vlm_writes(float_tiny, tmp_path, mixed):
    ours = make_checkpoint(tmp_path / "ours", "tiny", seed=5, bits=4, mixed=mixed)
    theirs = mlx_vlm_convert(float_tiny, tmp_path / "theirs", quantize=True, q_bits=4, q_group_size=64,
                             quant_predicate=mixed)
    assert tensors(ours) == tensors(tmp_path / "theirs")
    assert json.loads((ours / "config.json").read_text())["quantization"] == theirs["quantization"]


def test_mlp8_names_only_the_8bit_modules(tmp_path):
    folder = make_checkpoint(tmp_path / "mlp8", "tiny", seed=5, bits=4, mixed="mlp8")
    quant = json.loads((folder / "config.json").read_text())["quantization"]
    entries = {k: v for k, v in quant.items() if isinstance(v, dict)}
    assert entries and all(".mlp." in k and v == {"group_size": 64, "bits": 8} for k, v in entries.items())
    t = tensors(folder)
    assert t["language_model.model.layers.0.mlp.up_proj.weight"] == ("mlx.core.uint32", (128, 16))
    assert t["language_model.model.layers.0.self_attn.q_proj.weight"] == ("mlx.core.uint32", (64, 8))


def test_mlx_vlm_drafter_layout_is_what_mlx_vlm_writes(float_tiny, tmp_path):
    from mlx_vlm.utils import load_model

    ours = make_checkpoint(tmp_path / "ours", "tiny", seed=5, with_drafter=True,
                           drafter_layout="mlx-vlm") / "drafter"
    mlx_vlm_convert(float_tiny / "drafter", tmp_path / "theirs")
    theirs = values(tmp_path / "theirs")
    mine = values(ours)
    assert mine.keys() == theirs.keys()
    assert all(mx.array_equal(mine[k], theirs[k]) and mine[k].dtype == theirs[k].dtype for k in mine)
    index = json.loads((ours / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(mine)
    load_model(ours)  # mlx-vlm's own loader builds the drafter from our config, strictly


def test_text_only_layout_drops_the_media_weights_and_keeps_the_config(tmp_path):
    folder = make_checkpoint(tmp_path / "text", "tiny", seed=5, bits=4, mixed="mixed_4_8", text_only=True)
    names = tensors(folder)
    assert not [n for n in names if n.startswith(("vision_embedder.", "embed_vision.", "embed_audio."))]
    config = json.loads((folder / "config.json").read_text())
    assert config["vision_config"] and config["audio_config"]  # as mlx-lm's conversions leave it
    assert "embed_audio.embedding_projection" not in config["quantization"]


@pytest.mark.parametrize("options, message", [
    ({"mixed": "mixed_4_8"}, "give --bits 4"),
    ({"bits": 8, "mixed": "mlp8"}, "give --bits 4"),
    ({"bits": 4, "mixed": "q4_k_m"}, "unknown mixed-precision recipe"),
    ({"with_drafter": True, "drafter_layout": "gguf"}, "hf or mlx-vlm"),
])
def test_bad_layout_options_are_refused(tmp_path, options, message):
    with pytest.raises(CheckpointWriteError, match=message):
        make_checkpoint(tmp_path / "x", "tiny", **options)
    assert not (tmp_path / "x").exists()
