"""Tiny random reference models (transformers 5.23.0, float32, CPU) saved with save_pretrained.

Configs follow shared/reference/gemma4_unified.md §9: hidden 64, 4 heads, head_dim 16, global_head_dim 32,
vocab 512, intermediate 128, sliding window 4, multimodal ids 500-506. Norm weights are randomized
(1 + 0.3 N(0, 1)) and layer_scalar drawn from U[0.5, 1.5], because the default init (ones) would hide a
(1 + w) norm or a dropped layer_scalar.
"""

from __future__ import annotations

import zlib

import pytest
from hf_reference import build_reference


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """reference(name) -> (transformers model, saved folder); built once per config name."""
    built: dict[str, tuple] = {}

    def get(name: str):
        if name not in built:
            folder = tmp_path_factory.mktemp(f"ref-{name}")
            built[name] = (build_reference(name, folder, seed=zlib.crc32(name.encode())), folder)
        return built[name]

    return get


@pytest.fixture(scope="session")
def loaded(reference):
    """loaded(name) -> (transformers model, our Model loaded from the saved folder, folder)."""
    from engine.loading import load_model

    models: dict[str, tuple] = {}

    def get(name: str):
        if name not in models:
            ref, folder = reference(name)
            models[name] = (ref, load_model(folder, dtype="float32"), folder)
        return models[name]

    return get
