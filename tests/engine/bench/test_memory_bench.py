"""engine.bench.memory: the per-conversation overhead figure on the tiny shape."""

from engine.bench.memory import kv_quantization, session_overhead
from engine.checkpoint.shapes import get_shape


def test_overhead_of_a_conversation_stays_within_one_window_plus_slack_and_room():
    shape = get_shape("tiny")
    w = shape.sliding_window
    long = session_overhead(shape, turns=2, prompt_tokens=20, answer_tokens=100)
    row = 2 * shape.num_key_value_heads * shape.head_dim * 2
    sliding = sum(t != "full_attention" for t in shape.layer_types)
    bound = sliding * (w - 1 + 16 + 2 * 64) * row + 4 * 256 * 4096  # + the full layers' free room
    assert long["pinned_layers"] == sliding
    assert long["highest_overhead_bytes"] <= bound


def test_the_kv_figure_shows_the_quantized_caches_saving():
    out = kv_quantization(get_shape("12b"), tokens=512, context=262_144)
    assert out["bfloat16_gib_at_context"] == 4.0  # 8 layers x 1 head x 512 x K and V x 2 bytes x 256K
    assert out["4bit_gib_at_context"] < out["8bit_gib_at_context"] < 0.6 * out["bfloat16_gib_at_context"]


def test_filled_caches_hold_what_a_session_prefill_leaves():
    """fill_model_caches feeds rows in a session's prefill chunks, so a sliding buffer is not oversized."""
    from types import SimpleNamespace

    from engine.bench.memory_model import fill_model_caches
    from engine.decode.cache import FullCache, SlidingCache

    window, heads, dim = 64, 2, 16
    attn = [SimpleNamespace(n_kv_heads=heads, head_dim=dim), SimpleNamespace(n_kv_heads=1, head_dim=32)]
    lm = SimpleNamespace(cache_layers=lambda: [0, 1], layers=[SimpleNamespace(self_attn=a) for a in attn])
    caches = [SlidingCache(window), FullCache()]
    fill_model_caches(SimpleNamespace(language_model=lm), caches, 2000)
    assert caches[1].offset == caches[0].offset == 2000
    row = 2 * heads * dim * 2
    # The live window, one 256-row chunk, the speculative slack and the buffer's growth step at most.
    assert caches[0].nbytes <= (window - 1 + 256 + 16 + 2 * 64) * row


def test_filled_caches_are_in_the_dtype_the_model_computes_in():
    """A cache filled in another dtype than the model's rows would be turned into theirs by the next turn."""
    from types import SimpleNamespace

    import mlx.core as mx

    from engine.bench.memory_model import fill_model_caches
    from engine.decode.cache import FullCache, SlidingCache

    attn = [SimpleNamespace(n_kv_heads=2, head_dim=16), SimpleNamespace(n_kv_heads=1, head_dim=32)]
    lm = SimpleNamespace(cache_layers=lambda: [0, 1], layers=[SimpleNamespace(self_attn=a) for a in attn])
    for dtype in (mx.bfloat16, mx.float32):
        caches = [SlidingCache(64), FullCache()]
        fill_model_caches(SimpleNamespace(language_model=lm), caches, 300, dtype=dtype)
        assert {c.state[0].dtype for c in caches} == {dtype}
