"""Will a request fit in memory? Checked before its prefill starts, so the OS never kills it halfway.

`memory_shortfall(model, caches, new_tokens, chunk_tokens)` estimates what the turn adds: the new
tokens' keys and values (full-attention layers keep every row; sliding layers at most a window), and the
prefill's activations for one chunk (hidden states, the MLP's intermediate, attention scores over the
whole context, one row of logits). Beside what MLX holds now (the weights and every live cache) that must
stay within `memory_limit()`: the GPU's working-set limit where MLX reports one (Metal), else the
machine's memory. For a turn that does not fit it returns a sentence that says what to do (the session
refuses the turn with it, as one too long for the context), else None.

On macOS the GPU can wire only part of unified memory (`sysctl iogpu.wired_limit_mb`, 0 = the default of
about two thirds to three quarters of it): `wired_limit_note()` says what the limit means and how to
raise it, for `ModelLoaded.memory_note`.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Callable

import mlx.core as mx

from engine.session_budget import GPU_SHARE, machine_memory

GB = 1e9
ACTIVATION_COPIES = 4  # intermediate tensors alive at once in a layer, beyond the MLP's (measured loosely)


def memory_limit() -> int:
    """Bytes the GPU may use: Metal's recommended working set where there is one, else the machine's memory."""
    try:
        if mx.metal.is_available():
            return int(mx.metal.device_info()["max_recommended_working_set_size"])
    except (AttributeError, KeyError, RuntimeError):
        pass
    return machine_memory()


def turn_bytes(text_config, caches: list, new_tokens: int, chunk_tokens: int) -> int:
    """Bytes a turn of `new_tokens` adds: their keys and values plus one prefill chunk's activations."""
    kv = 0
    for c in caches:
        rows = c.state[0] if c.state else None
        if rows is None:
            continue
        per_row = rows.shape[0] * rows.shape[1] * rows.shape[3] * rows.dtype.size * 2
        window = getattr(c, "window", None)
        kv += per_row * (new_tokens if window is None else min(new_tokens, window))
    chunk = min(chunk_tokens, new_tokens)
    context = (caches[0].offset if caches else 0) + new_tokens
    width = 4  # float32 activations at worst
    hidden = chunk * text_config.hidden_size * width * ACTIVATION_COPIES
    mlp = chunk * text_config.intermediate_size * width * 2
    scores = chunk * context * text_config.num_attention_heads * width
    logits = text_config.vocab_size * width
    return kv + hidden + mlp + scores + logits


def memory_shortfall(model, caches: list, new_tokens: int, chunk_tokens: int,
                     limit: int | None = None, in_use: int | None = None) -> str | None:
    """Why the turn would take memory past the limit (a sentence), or None when it fits."""
    need = turn_bytes(model.config.text_config, caches, new_tokens, chunk_tokens)
    limit = memory_limit() if limit is None else limit
    in_use = int(mx.get_active_memory()) if in_use is None else in_use
    if not limit or in_use + need <= limit:
        return None
    return (f"this message is too big for the memory left: it needs about {need / GB:.1f} GB more and "
            f"only {max(limit - in_use, 0) / GB:.1f} GB is free for the model. Send a shorter message, "
            "or close other conversations or apps and try again.")


def wired_limit_note(platform: str = sys.platform, total_bytes: int | None = None,
                     run: Callable = subprocess.run) -> str:
    """On macOS: a sentence about the GPU's wired-memory limit and how to raise it; "" elsewhere."""
    if platform != "darwin":
        return ""
    try:
        out = run(["sysctl", "-n", "iogpu.wired_limit_mb"], capture_output=True, text=True, timeout=5)
        limit_mb = int(out.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return ""
    total = machine_memory() if total_bytes is None else total_bytes
    total_mb = total // (1 << 20)
    usable_mb = limit_mb if limit_mb > 0 else int(total_mb * GPU_SHARE)
    suggested = max(total_mb - 2048, usable_mb)
    return (f"macOS lets the GPU use about {usable_mb / 1024:.0f} GB of this Mac's {total_mb / 1024:.0f} GB"
            f"{' (the default)' if limit_mb == 0 else ''}; long conversations beyond that slow down or "
            f"fail. To let it use more until the next restart, run in Terminal: "
            f"sudo sysctl iogpu.wired_limit_mb={suggested}")
