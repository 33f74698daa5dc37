"""The "quantization" config entry: defaults, and per-module entries under the loading model's names."""

from engine.loading.quantization import defaults, module_entries
from engine.model.unified import canonical_name


def test_defaults_fill_what_the_entry_leaves_out():
    assert defaults({"bits": 8}) == {"group_size": 64, "bits": 8, "mode": "affine"}


def test_entries_are_renamed_completed_and_filtered():
    quantization = {
        "group_size": 64, "bits": 4, "mode": "affine", "quant_method": "mlx",
        "language_model.model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8},
        "model.language_model.layers.1.self_attn.q_proj": {"bits": 8, "mode": "affine"},
        "language_model.model.layers.2.mlp.up_proj": False,
        "language_model.model.layers.3.mlp.up_proj": True,
        "language_model.lm_head": {"bits": 8},  # the head is tied: no such module
    }
    assert module_entries(quantization, canonical_name) == {
        "language_model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8, "mode": "affine"},
        "language_model.layers.1.self_attn.q_proj": {"group_size": 64, "bits": 8, "mode": "affine"},
        "language_model.layers.2.mlp.up_proj": False,
        "language_model.layers.3.mlp.up_proj": {"group_size": 64, "bits": 4, "mode": "affine"},
    }
    # Without a rename (the drafter's names are the checkpoint's), paths stay as written.
    assert "language_model.model.layers.0.mlp.down_proj" in module_entries(quantization)
