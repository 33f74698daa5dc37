"""Text-only logits parity with transformers 5.23.0 (float32, CPU) on every branch of the text config.

Relative error = max |ours - reference| / max |reference| over all logits; the bound is 1e-4.
"""

from __future__ import annotations

import mlx.core as mx
import pytest
import torch
from hf_reference import WINDOW, rel_err, text_ids

from engine.model.config import FULL, SLIDING


@pytest.mark.parametrize(
    "name",
    [
        "T1",  # k_eq_v on, softcap 30
        "T2",  # k_eq_v off: full layers have v_proj and 2 KV heads
        "T3",  # softcap None
        "T4",  # KV sharing (2 shared layers) with the double-wide MLP
        "ALL",  # use_bidirectional_attention="all": bidirectional, halved window
        "NONE",  # use_bidirectional_attention=None
    ],
)
def test_logits_match_reference(loaded, name):
    ref, model, _ = loaded(name)
    ids = text_ids(13, seed=3)
    with torch.no_grad():
        expected = ref(input_ids=torch.tensor(ids)).logits
    assert rel_err(model(mx.array(ids)), expected) < 1e-4


def test_kv_sharing_structure(loaded):
    _, model, _ = loaded("T4")
    text = model.config.text_config
    assert text.kv_producers == [None, None, None, None, 3, 2]
    for i in (4, 5):
        attn = model.layers[i].self_attn
        assert "k_proj" not in attn and "v_proj" not in attn and "k_norm" not in attn
        # Double-wide MLP on the shared layers only.
        assert model.layers[i].mlp.gate_proj.weight.shape == (256, 64)
    assert model.layers[3].mlp.gate_proj.weight.shape == (128, 64)
    assert len(model.make_cache()) == 4
    assert model.last_layer_of_type(SLIDING) == 3 and model.last_layer_of_type(FULL) == 2


def test_full_layers_use_global_head_dim_and_kv_heads(loaded):
    _, model, _ = loaded("T1")
    full = model.layers[2].self_attn
    assert full.head_dim == 32 and full.n_kv_heads == 1 and "v_proj" not in full
    sliding = model.layers[0].self_attn
    assert sliding.head_dim == 16 and sliding.n_kv_heads == 2 and "v_proj" in sliding


def test_logits_to_keep_and_hidden(loaded):
    ref, model, _ = loaded("T1")
    ids = mx.array(text_ids(9, seed=4))
    hidden = model.hidden_states(ids)
    full = model.logits(hidden)
    last = model(ids, logits_to_keep=1)
    assert mx.allclose(full, model(ids), atol=1e-6)
    assert last.shape == (1, 1, 512) and hidden.shape == (1, 9, 64)
    assert mx.allclose(last[:, 0], full[:, -1], atol=1e-6)
    with torch.no_grad():
        out = ref(input_ids=torch.tensor(text_ids(9, seed=4)), output_hidden_states=True)
    # The reference's last hidden state is the post-final-norm state.
    assert rel_err(hidden, out.hidden_states[-1]) < 1e-4


def test_bad_input_ids_shape(loaded):
    _, model, _ = loaded("T1")
    with pytest.raises(ValueError, match=r"\[batch, length\]"):
        model(mx.array([1, 2, 3]))


def test_sanitize_maps_live_transformers_names(loaded):
    """A live transformers model's state_dict (in-memory names) maps onto exactly our parameters."""
    from mlx.utils import tree_flatten

    ref, model, _ = loaded("T4")
    state = {k: mx.array(v.detach().numpy()) for k, v in ref.state_dict().items()}
    assert any(k.startswith("model.embed_vision.patch_ln1") for k in state)
    ours = dict(tree_flatten(model.parameters()))
    mapped = model.sanitize(state)
    assert set(mapped) == set(ours)
    assert all(mx.array_equal(mapped[k], ours[k]) for k in ours)


def test_wrong_cache_list_is_a_clear_error(loaded):
    _, model, _ = loaded("T4")
    with pytest.raises(ValueError, match="expected 4 caches"):
        model(mx.array(text_ids(3)), cache=model.make_cache() + model.make_cache()[:2])


def _argmax_loop(model, ids: mx.array, n: int) -> list[int]:
    cache = model.make_cache()
    logits = model(ids, cache=cache)
    out = []
    for _ in range(n):
        out.append(int(mx.argmax(logits[0, -1]).item()))
        logits = model(mx.array([[out[-1]]]), cache=cache)
    return out


@pytest.mark.parametrize("name", ["T1", "T4"])  # not "all" mode: its attention depends on the chunking
def test_mlx_lm_generation_drives_the_model(loaded, name):
    """The model keeps mlx-lm's contract: its generate_step and speculative_generate_step (which trims the
    caches after rejected drafts) run it unchanged, past the sliding window, with chunked prefill."""
    from mlx_lm.generate import generate_step, speculative_generate_step

    _, model, _ = loaded(name)
    ids = mx.array(text_ids(5 * WINDOW + 3, seed=11))
    expected = _argmax_loop(model, ids, 12)
    plain = [t for t, _ in generate_step(ids[0], model, max_tokens=12, prefill_step_size=5)]
    assert plain == expected
    # Another random model drafts: most drafts are rejected, and mlx-lm trims both models' caches.
    _, other, _ = loaded("T2")
    spec = [t for t, _, _ in speculative_generate_step(ids[0], model, other, max_tokens=12,
                                                        num_draft_tokens=3, prefill_step_size=5)]
    assert spec == expected


def test_input_embeddings_follow_the_mlx_lm_contract(loaded):
    _, model, _ = loaded("T1")
    ids = mx.array(text_ids(9, seed=5))
    embeds = model.embed_inputs(ids)
    assert mx.allclose(model(ids, None, embeds), model(ids), atol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        model(ids, None, embeds, input_features=mx.zeros((1, 1, 640)))
    with pytest.raises(ValueError, match="does not match"):
        model(ids, None, embeds[:, :4])
