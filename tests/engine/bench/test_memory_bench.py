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
