"""Request bodies shaped like Codex CLI's and Claude Code's, sent as they send them, against the live
tiny-model server: every one is served, the streams parse in order, and a follow-up reuses the kept
cache. Only `max_output_tokens` / `max_tokens` are lowered, to keep random weights short."""

import json
import re

import httpx
from client_bodies import (
    CLAUDE_CODE_HEADERS,
    claude_code_first,
    claude_code_follow_up,
    codex_first,
    codex_follow_up,
)
from server_helpers import API_KEY

from engine import protocol as ev


def sse(base: str, path: str, body: dict, headers: dict) -> list[tuple[str, dict]]:
    """(event type, data) of a streamed reply; comments (keep-alive, progress) are skipped."""
    events = []
    with httpx.stream("POST", base + path, json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("data: "):
                data = json.loads(line[6:])
                events.append((data["type"], data))
    return events


def test_claude_code_requests(served):
    headers = {**CLAUDE_CODE_HEADERS, "Authorization": f"Bearer {API_KEY}"}
    first = claude_code_first() | {"max_tokens": 8}
    events = sse(served.base, "/v1/messages?beta=true", first, headers)
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["message_start", "ping"] and kinds[-2:] == ["message_delta", "message_stop"]
    blocks: dict[int, dict] = {}
    for kind, data in events:
        if kind == "content_block_start":
            blocks[data["index"]] = dict(data["content_block"])
        elif kind == "content_block_delta":
            key = {"text_delta": "text", "thinking_delta": "thinking"}[data["delta"]["type"]]
            blocks[data["index"]][key] += data["delta"][key]
    answer = [blocks[i] for i in sorted(blocks)]
    assert answer and all(b["type"] in ("text", "thinking") for b in answer)
    for b in answer:  # no control-token text, whatever random weights emit
        assert not re.search(r"<(unused\d+|bos|pad|mask|\|turn|\|image\|?|\|audio\|?)>",
                             b.get("text", "") + b.get("thinking", ""))

    follow = claude_code_follow_up(first, answer)
    counted = httpx.post(served.base + "/v1/messages/count_tokens?beta=true",
                         json={k: v for k, v in follow.items() if k not in ("max_tokens", "stream")},
                         headers=headers, timeout=60)
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 0
    mark = served.mark()
    events = sse(served.base, "/v1/messages?beta=true", follow, headers)
    assert events[-1][0] == "message_stop"
    sent = served.since(mark)
    results = [c for c in sent if isinstance(c, ev.LoadHistory)][0]
    assert results.messages[-1]["tool_responses"] == [
        {"name": "Bash", "response": "a.py\nb.py"},
        {"name": "user", "response": "<system-reminder>Todo list is empty.</system-reminder>"},
        {"name": "system", "response": "The user prefers short answers."},
    ]


def test_codex_requests(served):
    headers = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "responses=experimental",
               "originator": "codex_cli_rs", "session_id": "0199a1b2"}
    first = codex_first() | {"max_output_tokens": 8, "temperature": 0}  # greedy: the same answer each run
    events = sse(served.base, "/v1/responses", first, headers)
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    final = events[-1][1]["response"]
    assert "web_search" in final["metadata"]["tandem_note"]
    items = [d["item"] for k, d in events if k == "response.output_item.done"]
    assert items == final["output"]
    assert [t["name"] for t in final["tools"]] == ["shell", "update_plan"]

    # Codex sends its whole history back, with its reasoning items: the kept session is extended.
    mark = served.mark()
    events = sse(served.base, "/v1/responses", codex_follow_up(first, items), headers)
    assert events[-1][0] in ("response.completed", "response.incomplete")
    assert [type(c) for c in served.since(mark)] == [ev.SendMessage]
    assert events[-1][1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] > 0
