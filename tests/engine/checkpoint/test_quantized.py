"""--bits 4|8 writes mlx-vlm's converted layout: packed uint32 weights with scales/biases, float norms and embedders."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np
import pytest

from engine.checkpoint import SHAPES, make_checkpoint
from engine.checkpoint.tensors import mlx_name, quantizable, target_shards


@pytest.fixture(scope="module", params=[4, 8])
def quantized(request, tmp_path_factory):
    bits = request.param
    return bits, make_checkpoint(
        tmp_path_factory.mktemp("q") / f"q{bits}", "tiny", bits=bits, seed=3
    )


def _load(folder):
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(mx.load(str(f)))
    return out


def test_names_dtypes_and_shapes(quantized):
    bits, folder = quantized
    t = _load(folder)
    expected = {}
    for spec in (s for shard in target_shards(SHAPES["tiny"]) for s in shard):
        name = mlx_name(spec.name)
        if quantizable(spec, 64):
            base = name.removesuffix(".weight")
            out, inp = spec.shape
            expected[base + ".weight"] = (mx.uint32, (out, inp * bits // 32))
            expected[base + ".scales"] = (mx.float32, (out, inp // 64))
            expected[base + ".biases"] = (mx.float32, (out, inp // 64))
        else:
            expected[name] = (mx.float32, spec.shape)
    assert {k: (v.dtype, tuple(v.shape)) for k, v in t.items()} == expected
    # Spot checks of mlx-vlm 0.7.10's rule: decoder projections, the embedding and the audio projection are
    # packed; the vision embedder and image projection (paths naming "vision") and the rest stay float.
    assert t["language_model.model.embed_tokens.weight"].dtype == mx.uint32
    assert t["language_model.model.layers.2.self_attn.o_proj.weight"].dtype == mx.uint32
    assert t["embed_audio.embedding_projection.weight"].dtype == mx.uint32
    for name in (
        "vision_embedder.patch_dense.weight",
        "embed_vision.embedding_projection.weight",
        "language_model.model.layers.0.layer_scalar",
        "language_model.model.layers.0.self_attn.q_norm.weight",
    ):
        assert t[name].dtype == mx.float32, name
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"]) == set(t)


def test_config_carries_quantization(quantized):
    bits, folder = quantized
    cfg = json.loads((folder / "config.json").read_text())
    q = {"group_size": 64, "bits": bits, "mode": "affine"}
    assert cfg["quantization"] == q and cfg["quantization_config"] == q
    assert cfg["tandem_random_weights"] is True


def test_dequantized_weights_have_the_intended_distribution(quantized):
    bits, folder = quantized
    t = _load(folder)
    p = "language_model.model.layers.1.mlp.down_proj"
    w = mx.dequantize(
        t[p + ".weight"], t[p + ".scales"], t[p + ".biases"], group_size=64, bits=bits
    )
    w = np.array(w)
    assert w.shape == (64, 128)
    assert abs(w.mean()) < 0.002 and abs(w.std() - 0.02) < 0.002
    # Every value sits on its group's affine grid: (w - bias) / scale is an integer code in [0, 2^bits),
    # and the codes use the whole range.
    s = np.repeat(np.array(t[p + ".scales"]), 64, axis=1)
    b = np.repeat(np.array(t[p + ".biases"]), 64, axis=1)
    codes = (w - b) / s
    assert np.allclose(codes, np.round(codes), atol=1e-3)
    assert codes.round().min() == 0 and codes.round().max() == 2**bits - 1


def test_group_size_that_does_not_divide_is_refused(tmp_path):
    from engine.checkpoint import CheckpointWriteError

    with pytest.raises(CheckpointWriteError, match="groups of 128"):
        make_checkpoint(tmp_path / "x", "tiny", bits=4, group_size=128)
    assert not (tmp_path / "x").exists()
