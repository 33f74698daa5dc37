"""The tiny checkpoint loads in transformers with every key matched, and its tensors are drawn as promised."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from safetensors import safe_open

from engine.checkpoint import SHAPES, make_checkpoint
from engine.checkpoint.weights import to_bf16_bits

torch = pytest.importorskip("torch")


def _read_all(folder):
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(f, "pt") as g:
            for k in g.keys():  # noqa: SIM118 (safe_open is not iterable)
                out[k] = g.get_tensor(k)
    return out


def test_tiny_loads_in_transformers_with_no_missing_or_unexpected_keys(tiny_checkpoint):
    from transformers import Gemma4UnifiedForConditionalGeneration

    model, info = Gemma4UnifiedForConditionalGeneration.from_pretrained(
        tiny_checkpoint, output_loading_info=True, dtype=torch.float32
    )
    assert info["missing_keys"] == set()
    assert info["unexpected_keys"] == set()
    assert info["mismatched_keys"] == set() or info["mismatched_keys"] == []
    assert not info["error_msgs"]
    on_disk = _read_all(tiny_checkpoint)
    sd = model.state_dict()
    # Loaded values are the file's values (no silent re-initialization), under transformers' renaming.
    assert torch.equal(
        sd["model.language_model.layers.2.layer_scalar"],
        on_disk["model.language_model.layers.2.layer_scalar"],
    )
    assert torch.equal(
        sd["model.embed_vision.multimodal_embedder.embedding_projection.weight"],
        on_disk["model.embed_vision.embedding_projection.weight"],
    )
    assert torch.equal(
        sd["model.embed_vision.pos_embedding"], on_disk["model.vision_embedder.pos_embedding"]
    )
    # A forward pass runs and gives finite, softcapped logits.
    ids = torch.tensor([[2, 105, 400, 401, 402, 106, 107]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    assert logits.shape == (1, 7, 512)
    assert torch.isfinite(logits).all() and logits.abs().max() <= 30.0


def test_full_layers_have_no_v_proj_and_global_geometry(tiny_checkpoint):
    t = _read_all(tiny_checkpoint)
    p = "model.language_model.layers"
    assert f"{p}.2.self_attn.v_proj.weight" not in t  # k_eq_v on full layers
    assert t[f"{p}.2.self_attn.k_proj.weight"].shape == (32, 64)  # 1 kv head x global_head_dim 32
    assert t[f"{p}.2.self_attn.q_proj.weight"].shape == (128, 64)
    assert t[f"{p}.0.self_attn.v_proj.weight"].shape == (32, 64)  # 2 kv heads x 16
    assert "lm_head.weight" not in t  # tied


def test_index_covers_every_tensor_and_is_sharded(tiny_checkpoint):
    index = json.loads((tiny_checkpoint / "model.safetensors.index.json").read_text())
    files = sorted(p.name for p in tiny_checkpoint.glob("*.safetensors"))
    assert len(files) > 1 and sorted(set(index["weight_map"].values())) == files
    t = _read_all(tiny_checkpoint)
    assert set(index["weight_map"]) == set(t)
    assert index["metadata"]["total_size"] == sum(v.numel() * v.element_size() for v in t.values())


def test_random_draws_show_norm_convention_bugs(tiny_checkpoint):
    t = _read_all(tiny_checkpoint)
    norms = torch.cat([v.flatten() for k, v in t.items() if k.endswith("layernorm.weight")])
    assert abs(norms.mean().item() - 1.0) < 0.05 and 0.25 < norms.std().item() < 0.35
    scalars = torch.cat([v for k, v in t.items() if k.endswith("layer_scalar")])
    assert ((scalars >= 0.5) & (scalars <= 1.5)).all() and scalars.std() > 0.05
    dense = t["model.language_model.layers.0.mlp.gate_proj.weight"]
    assert dense.dtype == torch.float32 and abs(dense.std().item() - 0.02) < 0.002


def test_same_seed_same_weights_other_seed_differs(tiny_checkpoint, tmp_path):
    again = make_checkpoint(tmp_path / "a", "tiny", seed=0)
    other = make_checkpoint(tmp_path / "b", "tiny", seed=5)
    name = "model-00002-of-00003.safetensors"
    assert (again / name).read_bytes() == (tiny_checkpoint / name).read_bytes()
    assert (other / name).read_bytes() != (tiny_checkpoint / name).read_bytes()


def test_bf16_weights_are_exact_roundings_of_float32(tmp_path):
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32)
    ref = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(to_bf16_bits(x), ref)
    shape = dataclasses.replace(SHAPES["tiny"], dtype="bfloat16")
    f32 = make_checkpoint(tmp_path / "f32", "tiny")
    bf16 = make_checkpoint(tmp_path / "bf16", shape)
    a, b = _read_all(f32), _read_all(bf16)
    assert set(a) == set(b)
    for k in a:
        assert b[k].dtype == torch.bfloat16
        assert torch.equal(a[k].to(torch.bfloat16), b[k]), k
    assert json.loads((bf16 / "config.json").read_text())["dtype"] == "bfloat16"


def test_drafter_weights_match_the_reference_assistant(tiny_checkpoint_with_drafter, monkeypatch):
    """Names and shapes equal the HF assistant's own (its config needs kv_sharing_modes patched to build, §7)."""
    from transformers import Gemma4UnifiedAssistantConfig, Gemma4UnifiedAssistantForCausalLM
    from transformers.models.gemma4_unified import configuration_gemma4_unified as conf

    folder = tiny_checkpoint_with_drafter / "drafter"
    cfg = Gemma4UnifiedAssistantConfig.from_pretrained(folder)
    monkeypatch.setattr(
        conf.Gemma4UnifiedTextConfig,
        "kv_sharing_modes",
        property(lambda self: ["reuse"] * self.num_hidden_layers),
    )
    with torch.device("meta"):
        ref = Gemma4UnifiedAssistantForCausalLM(cfg)
    expected = {k: tuple(v.shape) for k, v in ref.state_dict().items() if k != "lm_head.weight"}
    got = {k: tuple(v.shape) for k, v in _read_all(folder).items()}
    assert got == expected
    assert got["pre_projection.weight"] == (32, 128) and got["post_projection.weight"] == (64, 32)


def test_12b_parameter_count_matches_the_released_model():
    from engine.checkpoint.tensors import parameter_count, target_shards

    # Reference §1.3: text 11,907,350,320 + vision embedder 49,922,304 + audio projection 2,457,600.
    assert parameter_count(SHAPES["12b"]) == 11_907_350_320 + 49_922_304 + 2_457_600
    per_layer = [sum(s.numel for s in shard) for shard in target_shards(SHAPES["12b"])[1:]]
    assert per_layer[0] == 224_148_993 and per_layer[5] == 241_844_225  # sliding, full layer
    assert 0.85e9 < parameter_count(SHAPES["small"]) < 0.95e9
