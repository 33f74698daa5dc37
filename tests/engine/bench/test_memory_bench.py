"""engine.bench.memory: the per-conversation overhead figure on the tiny shape."""

from engine.bench.memory import session_overhead
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
