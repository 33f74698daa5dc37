from app.agent.context import DROPPED, SHORTENED, Transcript, approx_tokens
from engine.inputs.types import ToolCall


def _transcript(n_steps: int, size: int) -> Transcript:
    t = Transcript("system", [])
    t.add_task("the task")
    for i in range(n_steps):
        message = t.add_step(f"step {i}", [ToolCall("read_file", {"path": f"f{i}"})])
        message["tool_responses"].append(
            {"name": "read_file", "response": {"content": str(i) * size}}
        )
    return t


def test_under_budget_nothing_changes():
    t = _transcript(3, 100)
    before = t.render()
    assert t.fit(10_000, approx_tokens) and t.render() == before


def test_old_observations_are_shortened_oldest_first_and_recent_kept():
    t = _transcript(5, 4000)
    budget = t.tokens(approx_tokens) - 1500  # needs about two old outputs shortened
    assert t.fit(budget, approx_tokens)
    responses = [m["tool_responses"][0]["response"] for m in t.messages[1:]]
    assert responses[0]["note"] == SHORTENED and responses[1]["note"] == SHORTENED
    assert responses[2] == {"content": "2" * 4000}  # old, but not needed
    assert responses[3:] == [{"content": "3" * 4000}, {"content": "4" * 4000}]
    assert t.messages[0] == {"role": "user", "content": "the task"}
    assert all(m["tool_calls"] for m in t.messages[1:])  # the model's calls are never changed


def test_then_dropped_then_recent_shortened_then_it_gives_up():
    t = _transcript(4, 4000)
    assert t.fit(600, approx_tokens)
    responses = [m["tool_responses"][0]["response"] for m in t.messages[1:]]
    assert responses[0] == {"note": DROPPED} and responses[1] == {"note": DROPPED}
    assert responses[2]["note"] == SHORTENED
    assert not _transcript(4, 4000).fit(10, approx_tokens)


def test_media_in_the_task_counts_a_fixed_amount_and_is_not_rendered():
    from app.agent.context import MEDIA_ITEM_TOKENS

    pixels = b"\x89PNG" + b"\x00" * 100_000
    t = Transcript("s", [])
    t.add_task([{"type": "text", "text": "why is this wrong?"}, {"type": "image", "image": pixels}])
    plain = Transcript("s", [])
    plain.add_task([{"type": "text", "text": "why is this wrong?"}, {"type": "image"}])
    assert t.tokens(approx_tokens) == plain.tokens(approx_tokens)
    assert t.tokens(approx_tokens) - approx_tokens(t.render()) == MEDIA_ITEM_TOKENS
    assert t.messages[0]["content"][1]["image"] is pixels  # the transcript itself keeps the media


def test_a_screen_recording_counts_what_the_engine_makes_of_a_long_clip():
    from app.agent.context import VIDEO_ITEM_TOKENS
    from engine.inputs.video import MAX_SOUND_SECONDS, NUM_FRAMES, VIDEO_SOFT_TOKENS

    t = Transcript("s", [])
    t.add_task([{"type": "video", "video": "/tmp/screen.mov"}, {"type": "text", "text": "fix this"}])
    assert t.tokens(approx_tokens) - approx_tokens(t.render()) == VIDEO_ITEM_TOKENS
    # 32 frames of soft tokens plus their markers and timestamps, and the sound at 25 tokens a second
    assert VIDEO_ITEM_TOKENS >= NUM_FRAMES * (VIDEO_SOFT_TOKENS + 2) + MAX_SOUND_SECONDS * 25
