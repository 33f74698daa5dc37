"""Counting a request's prompt tokens without running it (Anthropic's `count_tokens`).

`count_prompt_tokens(request, tokenizer, template)` renders the request's conversation as a fresh
session feeds it: the system turn (system prompt, tools, thinking switch), every turn as the chat
template writes it (earlier answers without their thinking), media expanded to their soft tokens, and
the generation prompt. The count equals the prompt tokens of the same request served by a fresh
session (`usage.input_tokens` with nothing read from a kept cache).
"""

from __future__ import annotations

from typing import Any

from engine.inputs.prompt import PromptError, encode_prompt
from engine.inputs.template import render_chat
from engine.server.items import RequestError, TurnRequest, template_messages


def count_prompt_tokens(request: TurnRequest, tokenizer: Any, template: str) -> int:
    request.check_shape()
    key = request.key
    messages = template_messages(request.turns)
    if key.system_prompt.strip():
        messages.insert(0, {"role": "system", "content": key.system_prompt})
    images, audios = [], []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            images += [c["image"] for c in content if c.get("type") == "image"]
            audios += [c["audio"] for c in content if c.get("type") == "audio"]
    try:
        text = render_chat(messages, template=template, tools=key.tools,
                           enable_thinking=key.enable_thinking, add_generation_prompt=True)
        inputs = encode_prompt(text, tokenizer, images=images, audios=audios,
                               image_budget=key.image_budget)
    except (PromptError, ValueError) as e:
        raise RequestError(f"the conversation cannot be rendered: {e}", "messages") from e
    return int(inputs.input_ids.shape[1])
