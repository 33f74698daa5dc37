"""Parity of the MTP drafter with transformers 5.23.0's Gemma4UnifiedAssistantForCausalLM (float32, CPU).

transformers 5.23.0 cannot build the assistant as shipped: `kv_sharing_modes` raises when every layer is shared
(reference doc §7), so the test patches that property for the duration of model construction and feeds the
shared K/V by hand. Norm weights and layer scalars are randomized so that `(1 + w)` or a dropped scalar fails.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import mlx.core as mx  # noqa: E402

from engine.loading import load_drafter  # noqa: E402
from engine.model.drafter import Drafter, draft_geometry  # noqa: E402

HIDDEN, BACKBONE, VOCAB, WINDOW, KV_LEN = 32, 64, 512, 4, 10
SLIDING_KV = (2, 16)  # (kv heads, head_dim) of the target's last sliding layer
FULL_KV = (1, 32)


def _hf_assistant(tmp_path, ordered: bool, seed: int):
    from transformers import Gemma4UnifiedAssistantConfig, Gemma4UnifiedAssistantForCausalLM
    from transformers.models.gemma4_unified import configuration_gemma4_unified as hf_config

    text = dict(
        model_type="gemma4_unified_text", vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=64,
        num_hidden_layers=4, layer_types=["sliding_attention"] * 3 + ["full_attention"], num_attention_heads=4,
        num_key_value_heads=SLIDING_KV[0], head_dim=SLIDING_KV[1], global_head_dim=FULL_KV[1],
        num_global_key_value_heads=FULL_KV[0], attention_k_eq_v=True, sliding_window=WINDOW,
        final_logit_softcapping=30.0,  # named in the config, never applied by the reference assistant
    )
    config = Gemma4UnifiedAssistantConfig(
        text_config=text, backbone_hidden_size=BACKBONE, use_ordered_embeddings=ordered, num_centroids=8,
        centroid_intermediate_top_k=3,
    )
    config.text_config._attn_implementation = "eager"
    torch.manual_seed(seed)
    patched = property(lambda self: ["reuse"] * self.num_hidden_layers)
    original = hf_config.Gemma4UnifiedTextConfig.kv_sharing_modes
    hf_config.Gemma4UnifiedTextConfig.kv_sharing_modes = patched
    try:
        model = Gemma4UnifiedAssistantForCausalLM(config).eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" in name:
                    p.copy_(1 + 0.3 * torch.randn_like(p))
            for layer in model.model.layers:
                layer.layer_scalar.copy_(torch.rand(1) + 0.5)
            model.model.embed_tokens.weight.mul_(100)  # logits of a few units, where a softcap would show
            if ordered:
                model.masked_embedding.token_ordering.copy_(torch.randperm(VOCAB))
        model.save_pretrained(tmp_path)
    finally:
        hf_config.Gemma4UnifiedTextConfig.kv_sharing_modes = original
    return model


def _shared_kv(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, (heads, dim) in (("sliding_attention", SLIDING_KV), ("full_attention", FULL_KV)):
        out[name] = tuple(rng.standard_normal((1, heads, KV_LEN, dim)).astype(np.float32) for _ in range(2))
    return out


def _hf_step(model, embeds: np.ndarray, kv: dict, position: int):
    with torch.no_grad():
        out = model(
            inputs_embeds=torch.from_numpy(embeds),
            position_ids=torch.tensor([[position]]),
            shared_kv_states={k: (torch.from_numpy(a), torch.from_numpy(b)) for k, (a, b) in kv.items()},
        )
    return out.logits.numpy(), out.last_hidden_state.numpy()


def _mlx_step(drafter: Drafter, embeds: np.ndarray, kv: dict, position: int, sliding_entries: int):
    shared = {k: (mx.array(a), mx.array(b)) for k, (a, b) in kv.items()}
    k, v = shared["sliding_attention"]
    shared["sliding_attention"] = (k[:, :, -sliding_entries:], v[:, :, -sliding_entries:])
    logits, projected = drafter(mx.array(embeds), shared, position)
    return np.array(logits), np.array(projected)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / (np.abs(b).max() + 1e-12))


@pytest.mark.parametrize("ordered", [False, True], ids=["tied-head", "centroid-head"])
def test_drafter_matches_transformers(tmp_path, ordered):
    hf = _hf_assistant(tmp_path, ordered, seed=3)
    drafter = load_drafter(tmp_path)
    assert drafter.config.use_ordered_embeddings is ordered
    kv = _shared_kv(seed=4)
    embeds = np.random.default_rng(5).standard_normal((1, 1, 2 * BACKBONE)).astype(np.float32)

    # transformers' convention: the query at the bonus token's position P = KV_LEN, W + 1 sliding entries.
    position, entries = draft_geometry(KV_LEN, WINDOW, position_offset=1)
    assert (position, entries) == (KV_LEN, WINDOW + 1)
    ref_logits, ref_proj = _hf_step(hf, embeds, kv, position)
    logits, proj = _mlx_step(drafter, embeds, kv, position, entries)
    assert _rel(proj, ref_proj) < 1e-5
    assert _rel(logits, ref_logits) < 1e-5
    assert int(logits.argmax()) == int(ref_logits.argmax())

    # Tandem's (vLLM) convention, checked by giving transformers exactly the W entries it should see.
    position, entries = draft_geometry(KV_LEN, WINDOW)
    cut = dict(kv, sliding_attention=tuple(t[:, :, -entries:] for t in kv["sliding_attention"]))
    ref_logits, ref_proj = _hf_step(hf, embeds, cut, position)
    logits, proj = _mlx_step(drafter, embeds, kv, position, entries)
    assert _rel(proj, ref_proj) < 1e-5
    assert _rel(logits, ref_logits) < 1e-5


def test_centroid_head_scores_only_selected_tokens(tmp_path):
    """Only tokens of the top-k centroids get real scores; the rest sit strictly below all of them."""
    _hf_assistant(tmp_path, ordered=True, seed=7)
    drafter = load_drafter(tmp_path)
    kv = {k: (mx.array(a), mx.array(b)) for k, (a, b) in _shared_kv(seed=8).items()}
    embeds = mx.array(np.random.default_rng(9).standard_normal((1, 1, 2 * BACKBONE)).astype(np.float32))
    logits = np.array(drafter(embeds, kv, KV_LEN - 1)[0])[0, 0]
    fill = logits.min()
    selected = logits > fill
    assert selected.sum() == 3 * VOCAB // 8  # top_k clusters of vocab / num_centroids tokens each
    assert np.isclose(fill, logits[selected].min() - 1.0)


def test_load_drafter_casts_dtype(tmp_path):
    _hf_assistant(tmp_path, ordered=True, seed=11)
    drafter = load_drafter(tmp_path, dtype=mx.bfloat16)
    assert drafter.pre_projection.weight.dtype == mx.bfloat16
    assert drafter.masked_embedding.token_ordering.dtype == mx.int32


def test_load_quantized_drafter(tmp_path):
    """An MLX 8-bit drafter folder (mlx-lm's "quantization" config entry) loads and stays close to float."""
    import json

    import mlx.nn as nn
    from mlx.utils import tree_flatten

    _hf_assistant(tmp_path / "hf", ordered=True, seed=13)
    drafter = load_drafter(tmp_path / "hf")
    nn.quantize(drafter, group_size=32, bits=8)
    out = tmp_path / "q8"
    out.mkdir()
    mx.save_safetensors(str(out / "model.safetensors"), dict(tree_flatten(drafter.parameters())))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "quantization": {"group_size": 32, "bits": 8}}))

    quantized = load_drafter(out)
    assert isinstance(quantized.pre_projection, nn.QuantizedLinear)
    assert isinstance(quantized.model.embed_tokens, nn.QuantizedEmbedding)
    float_drafter = load_drafter(tmp_path / "hf")
    kv = {k: (mx.array(a), mx.array(b)) for k, (a, b) in _shared_kv(seed=14).items()}
    embeds = mx.array(np.random.default_rng(15).standard_normal((1, 1, 2 * BACKBONE)).astype(np.float32))
    ref_logits, ref_proj = (np.array(t) for t in float_drafter(embeds, kv, KV_LEN - 1))
    logits, proj = (np.array(t) for t in quantized(embeds, kv, KV_LEN - 1))
    assert _rel(proj, ref_proj) < 0.05
    assert int(logits.argmax()) == int(ref_logits.argmax())
