"""engine.load_model: the three folder layouts, repo ids through a local hub cache, and clear load errors.

Parity: relative error = max |ours - reference| / max |reference| over all logits, bound 1e-4, where the
reference is transformers 5.23.0 loading the same folder (float32, CPU).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx import nn

from engine.loading import CheckpointError, load_model, load_safetensors, weight_files

IDS = [[2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]]


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module")
def float_model(tiny_checkpoint):
    return load_model(tiny_checkpoint, dtype="float32")


@pytest.fixture()
def ckpt(tiny_checkpoint, tmp_path) -> Path:
    """A private copy of the tiny checkpoint that a test may damage."""
    return Path(shutil.copytree(tiny_checkpoint, tmp_path / "ckpt"))


def test_sharded_hf_layout_matches_transformers(tiny_checkpoint, float_model):
    import torch
    from transformers import Gemma4UnifiedForConditionalGeneration

    assert (tiny_checkpoint / "model.safetensors.index.json").is_file()
    ref = Gemma4UnifiedForConditionalGeneration.from_pretrained(
        tiny_checkpoint, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    with torch.no_grad():
        expected = ref(input_ids=torch.tensor(IDS)).logits.numpy()
    assert rel_err(float_model(mx.array(IDS)), expected) < 1e-4


def test_default_dtype_is_float32_on_cpu(tiny_checkpoint):
    model = load_model(tiny_checkpoint)
    assert model.language_model.embed_tokens.weight.dtype == mx.float32
    assert (
        load_model(tiny_checkpoint, dtype="bfloat16").language_model.norm.weight.dtype
        == mx.bfloat16
    )


def test_single_file_mlx_vlm_layout(ckpt, float_model):
    """mlx-vlm names (`language_model.model.*`, `vision_embedder.*`) in one model.safetensors."""
    weights = {}
    for f in weight_files(ckpt):
        for name, w in load_safetensors(f).items():
            name = name.removeprefix("model.")
            if name.startswith("language_model."):
                name = "language_model.model." + name.removeprefix("language_model.")
            weights[name] = w
        f.unlink()
    (ckpt / "model.safetensors.index.json").unlink()
    mx.save_safetensors(str(ckpt / "model.safetensors"), weights)
    model = load_model(ckpt, dtype="float32")
    assert mx.array_equal(model(mx.array(IDS)), float_model(mx.array(IDS)))


def test_quantized_mlx_vlm_folder_from_make_checkpoint(tmp_path):
    from engine.checkpoint import make_checkpoint

    folder = make_checkpoint(tmp_path / "q4", shape="tiny", seed=0, bits=4)
    model = load_model(folder, dtype="float32")
    attn = model.layers[0].self_attn.q_proj
    assert "scales" in attn and attn.bits == 4
    # This layout quantizes what it chose; the image projection stayed float.
    assert "scales" not in model.embed_vision.embedding_projection
    logits = model(mx.array(IDS))
    assert logits.shape == (1, len(IDS[0]), 512) and bool(mx.all(mx.isfinite(logits)))


def test_repo_id_through_local_hub_cache(tiny_checkpoint, tmp_path, monkeypatch, float_model):
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--tandem-test--tiny"
    shutil.copytree(tiny_checkpoint, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    model = load_model("tandem-test/tiny", dtype="float32")
    assert mx.array_equal(model(mx.array(IDS)), float_model(mx.array(IDS)))
    with pytest.raises(CheckpointError, match="tandem-test/absent"):
        load_model("tandem-test/absent")


def test_missing_shard_names_the_file(ckpt):
    victim = weight_files(ckpt)[1]
    victim.unlink()
    with pytest.raises(CheckpointError, match=victim.name):
        load_model(ckpt)


def test_wrong_shape_names_tensor_and_both_shapes(ckpt):
    target = "model.language_model.layers.0.mlp.gate_proj.weight"
    shard = (
        ckpt / json.loads((ckpt / "model.safetensors.index.json").read_text())["weight_map"][target]
    )
    weights = load_safetensors(shard)
    name = target
    weights[name] = mx.zeros((127, 64))
    mx.save_safetensors(str(shard), weights)
    with pytest.raises(
        CheckpointError, match=r"layers\.0\.mlp\.gate_proj\.weight.*\(127, 64\).*\(128, 64\)"
    ):
        load_model(ckpt)


def test_truncated_safetensors_is_a_clear_error(ckpt):
    shard = weight_files(ckpt)[-1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=f"{shard.name} is truncated"):
        load_model(ckpt)
    shard.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match=f"{shard.name} is truncated"):
        load_model(ckpt)


def test_other_model_type_says_what_it_is(ckpt):
    config = json.loads((ckpt / "config.json").read_text())
    config["model_type"] = "llama"
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="'llama' model"):
        load_model(ckpt)


def test_missing_required_config_key(ckpt):
    config = json.loads((ckpt / "config.json").read_text())
    del config["text_config"]["hidden_size"]
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="hidden_size"):
        load_model(ckpt)


def test_missing_tensor_and_missing_folder(ckpt, tmp_path):
    shard = weight_files(ckpt)[0]
    weights = load_safetensors(shard)
    dropped = next(iter(weights))
    del weights[dropped]
    mx.save_safetensors(str(shard), weights)
    with pytest.raises(CheckpointError, match="missing from the checkpoint"):
        load_model(ckpt)
    with pytest.raises(CheckpointError, match="neither a folder nor"):
        load_model(tmp_path / "nowhere")


def test_per_layer_quantization_overrides(tiny_checkpoint, tmp_path, float_model):
    """mlx-lm's config format: global bits plus per-layer entries (a dict of parameters, or false)."""
    from mlx.utils import tree_flatten

    from engine.model.unified import sanitize_weights

    special, skipped = (
        "language_model.layers.1.mlp.down_proj",
        "language_model.layers.2.mlp.up_proj",
    )
    overrides = {special: {"group_size": 32, "bits": 8}, skipped: False}

    def predicate(path, module):
        if path in overrides:
            return overrides[path]
        return float_model.quant_predicate(path, module) and module.weight.shape[-1] % 64 == 0

    model = load_model(tiny_checkpoint, dtype="float32")
    nn.quantize(model, group_size=64, bits=4, class_predicate=predicate)
    out = tmp_path / "mixed"
    shutil.copytree(tiny_checkpoint, out, ignore=shutil.ignore_patterns("*.safetensors*"))
    mx.save_safetensors(str(out / "model.safetensors"), dict(tree_flatten(model.parameters())))
    config = json.loads((out / "config.json").read_text())
    config["quantization"] = {"group_size": 64, "bits": 4, "mode": "affine", **overrides}
    (out / "config.json").write_text(json.dumps(config))
    loaded = load_model(out, dtype="float32")
    layer = dict(loaded.named_modules())[special]
    assert (layer.bits, layer.group_size) == (8, 32)
    assert isinstance(dict(loaded.named_modules())[skipped], nn.Linear)
    assert mx.array_equal(loaded(mx.array(IDS)), model(mx.array(IDS)))
    assert sanitize_weights(loaded.config, {"model.lm_head.weight": mx.zeros(1)}) == {}


# ------------------------------------------------------------ mixed precision and text-only builds


def test_mixed_4_8_checkpoint_loads_each_module_at_its_bits(tmp_path):
    """mlx-vlm's per-module entries name modules `language_model.model.*`; each loads at its own width."""
    from engine.checkpoint import make_checkpoint

    folder = make_checkpoint(tmp_path / "mixed", "tiny", seed=0, bits=4, mixed="mixed_4_8")
    model = load_model(folder, dtype="float32")
    modules = dict(model.named_modules())
    assert modules["language_model.layers.2.mlp.down_proj"].bits == 8
    assert modules["language_model.layers.2.mlp.up_proj"].bits == 4
    assert modules["language_model.layers.0.mlp.down_proj"].bits == 4
    assert modules["language_model.embed_tokens"].bits == 8
    assert bool(mx.all(mx.isfinite(model(mx.array(IDS)))))


def test_mlp8_checkpoint_takes_defaults_for_modules_it_does_not_name(tmp_path):
    from engine.checkpoint import make_checkpoint

    folder = make_checkpoint(tmp_path / "mlp8", "tiny", seed=0, bits=4, mixed="mlp8")
    modules = dict(load_model(folder, dtype="float32").named_modules())
    assert modules["language_model.layers.4.mlp.gate_proj"].bits == 8
    assert modules["language_model.layers.4.self_attn.q_proj"].bits == 4


def test_module_entries_in_hf_names_with_a_mode(tiny_checkpoint, tmp_path, float_model):
    """An entry may carry its own mode (mlx-optiq writes one) and name modules the HF way."""
    from mlx.utils import tree_flatten

    q = "language_model.layers.3.self_attn.q_proj"
    model = load_model(tiny_checkpoint, dtype="float32")
    nn.quantize(model, group_size=64, bits=4, class_predicate=lambda p, m: (
        {"group_size": 32, "bits": 8, "mode": "affine"} if p == q else p.startswith("language_model.layers")
        and hasattr(m, "to_quantized") and m.weight.shape[-1] % 64 == 0))
    out = tmp_path / "mixed"
    shutil.copytree(tiny_checkpoint, out, ignore=shutil.ignore_patterns("*.safetensors*"))
    mx.save_safetensors(str(out / "model.safetensors"), dict(tree_flatten(model.parameters())))
    config = json.loads((out / "config.json").read_text())
    config["quantization"] = {"group_size": 64, "bits": 4, "mode": "affine", "quant_method": "mlx",
                              "model." + q: {"group_size": 32, "bits": 8, "mode": "affine"}}
    (out / "config.json").write_text(json.dumps(config))
    loaded = load_model(out, dtype="float32")
    assert (dict(loaded.named_modules())[q].bits, dict(loaded.named_modules())[q].group_size) == (8, 32)
    assert mx.array_equal(loaded(mx.array(IDS)), model(mx.array(IDS)))


@pytest.mark.parametrize("strip_config", [False, True], ids=["config-keeps-media", "config-stripped"])
def test_text_only_build_loads_without_vision_and_audio(tiny_checkpoint, tmp_path, float_model,
                                                       strip_config):
    """mlx-lm's conversions drop the media weights; mlx-optiq also strips the media keys from the config."""
    from engine.checkpoint import make_checkpoint
    from engine.model.unified import InputNotSupported

    folder = make_checkpoint(tmp_path / "text", "tiny", seed=0, text_only=True)
    if strip_config:
        config = json.loads((folder / "config.json").read_text())
        for key in ("vision_config", "audio_config", "image_token_id", "video_token_id"):
            config.pop(key)
        (folder / "config.json").write_text(json.dumps(config))
    model = load_model(folder, dtype="float32")
    assert not model.has_vision and not model.has_audio
    assert float_model.has_vision and float_model.has_audio
    # Same seed, same text weights: text answers exactly as the full build does.
    assert mx.array_equal(model(mx.array(IDS)), float_model(mx.array(IDS)))
    image = float_model.config.image_token_id
    with pytest.raises(InputNotSupported, match="cannot read images"):
        model(mx.array([[2, image]]), pixel_values=mx.zeros((1, 1, 6912)),
              image_position_ids=mx.zeros((1, 1, 2), dtype=mx.int32))
    video = float_model.config.video_token_id
    with pytest.raises(InputNotSupported, match="cannot watch videos"):
        model(mx.array([[2, video]]), pixel_values_videos=mx.zeros((1, 1, 6912)),
              video_position_ids=mx.zeros((1, 1, 2), dtype=mx.int32))
    audio = float_model.config.audio_token_id
    with pytest.raises(InputNotSupported, match="cannot hear audio"):
        model(mx.array([[2, audio]]), input_features=mx.zeros((1, 1, 640)),
              input_features_mask=mx.ones((1, 1), dtype=mx.bool_))


def test_a_partly_missing_vision_embedder_is_an_error_not_a_text_only_build(ckpt):
    shard = weight_files(ckpt)[0]
    weights = load_safetensors(shard)
    del weights["model.vision_embedder.patch_dense.weight"]
    mx.save_safetensors(str(shard), weights)
    with pytest.raises(CheckpointError, match="vision_embedder.patch_dense.weight"):
        load_model(ckpt)


def test_what_mlx_vlm_writes_in_mixed_precision_loads(tiny_checkpoint, tmp_path):
    """The folder mlx-vlm 0.7.10's converter writes with --quant-predicate mixed_4_8 loads at its bits."""
    pytest.importorskip("mlx_vlm")
    from mlx_vlm_converter import mlx_vlm_convert

    mlx_vlm_convert(tiny_checkpoint, tmp_path / "converted", quantize=True, q_bits=4, q_group_size=64,
                    quant_predicate="mixed_4_8")
    model = load_model(tmp_path / "converted", dtype="float32")
    modules = dict(model.named_modules())
    assert modules["language_model.layers.5.mlp.down_proj"].bits == 8
    assert modules["embed_audio.embedding_projection"].bits == 4
    assert model.has_vision and model.has_audio
    assert bool(mx.all(mx.isfinite(model(mx.array(IDS)))))
