"""Turn outputs as Responses output items and stream events (the order OpenAI's reference gives).

`ResponseBuilder(response_id, model, request)` turns each output of a turn into the events to send
(`feed(out) -> list of (type, payload)`) and keeps the finished output items:
- thinking text: a `reasoning` item (`response.output_item.added`, `response.content_part.added`
  with a `reasoning_text` part, `response.reasoning_text.delta`..., `response.reasoning_text.done`,
  `response.content_part.done`, `response.output_item.done`);
- answer text: a `message` item with one `output_text` part (the same events, `output_text`);
- a tool call: a `function_call` item (`response.output_item.added`,
  `response.function_call_arguments.delta` with the whole arguments, `...arguments.done`,
  `response.output_item.done`).
A new kind of output closes the open item. `start()` gives `response.created` and
`response.in_progress`; `finish(done)` closes the open item and gives `response.completed` (or
`response.incomplete` when the answer hit `max_output_tokens`); `fail(error)` gives
`response.failed`. Every event carries the next `sequence_number`. `response(...)` is the response
object itself, for the non-streamed reply and the store.
"""

from __future__ import annotations

import json
import time
from typing import Any

from engine.server.conversation import Call, Message
from engine.server.errors import TurnError, openai_code
from engine.server.responses_convert import ResponsesRequest, new_id
from engine.server.turns import Done, TextOut, ToolCallOut, Usage

KIND = {"thinking": "reasoning", "answer": "message"}
PART = {"reasoning": "reasoning_text", "message": "output_text"}
DELTA = {"reasoning": "response.reasoning_text", "message": "response.output_text"}


def usage_dict(u: Usage) -> dict:
    return {
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }


class ResponseBuilder:
    def __init__(self, response_id: str, model: str, request: ResponsesRequest) -> None:
        self.id, self.model, self.request = response_id, model, request
        self.created_at = int(time.time())
        self.items: list[dict] = []  # finished output items
        self.open: dict | None = None  # the item being streamed
        self.answer: list[str] = []
        self.calls: list[Call] = []
        self.seq = 0

    # ------------------------------------------------------------ the response object

    def response(self, status: str, usage: Usage | None = None, error: dict | None = None,
                 incomplete: str | None = None) -> dict:
        echo = dict(self.request.echo)
        notes = self.request.chat.notes
        if notes:
            echo["metadata"] = {**echo.get("metadata", {}), "tandem_note": "; ".join(notes)[:512]}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": error,
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "model": self.model,
            "output": list(self.items) if status != "in_progress" else [],
            "previous_response_id": self.request.previous_response_id,
            "store": self.request.store,
            "usage": usage_dict(usage) if usage is not None else None,
            **echo,
        }

    def output_message(self) -> Message:
        """The answer as the conversation keeps it (for the store)."""
        return Message("assistant", "output", text="".join(self.answer), calls=list(self.calls))

    # ------------------------------------------------------------ events

    def _event(self, kind: str, **payload: Any) -> tuple[str, dict]:
        self.seq += 1
        return kind, {"type": kind, "sequence_number": self.seq, **payload}

    def start(self) -> list[tuple[str, dict]]:
        created = self.response("in_progress")
        return [self._event("response.created", response=created),
                self._event("response.in_progress", response=created)]

    def keepalive(self) -> tuple[str, dict]:
        return self._event("response.in_progress", response=self.response("in_progress"))

    def feed(self, out: TextOut | ToolCallOut) -> list[tuple[str, dict]]:
        if isinstance(out, ToolCallOut):
            return self.close() + self._call(out)
        kind = KIND.get(out.channel, "message")
        events = [] if self.open and self.open["type"] == kind else self.close() + self._open(kind)
        item = self.open
        item["text"] += out.text
        if kind == "message":
            self.answer.append(out.text)
        events.append(self._event(f"{DELTA[kind]}.delta", item_id=item["id"], output_index=item[
            "index"], content_index=0, delta=out.text, **({"logprobs": []} if kind == "message"
                                                           else {})))
        return events

    def _open(self, kind: str) -> list[tuple[str, dict]]:
        index = len(self.items)
        if kind == "message":
            item = {"id": new_id("msg"), "type": "message", "status": "in_progress",
                    "role": "assistant", "content": []}
        else:
            item = {"id": new_id("rs"), "type": "reasoning", "summary": [], "content": []}
        self.open = {"id": item["id"], "type": kind, "index": index, "text": "", "item": item}
        return [self._event("response.output_item.added", output_index=index, item=item),
                self._event("response.content_part.added", item_id=item["id"], output_index=index,
                            content_index=0, part=self._part(kind, ""))]

    @staticmethod
    def _part(kind: str, text: str) -> dict:
        if kind == "message":
            return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        return {"type": "reasoning_text", "text": text}

    def close(self) -> list[tuple[str, dict]]:
        if self.open is None:
            return []
        o, self.open = self.open, None
        kind, text = o["type"], o["text"]
        part = self._part(kind, text)
        item = {**o["item"], "content": [part]}
        if kind == "message":
            item["status"] = "completed"
        else:
            item["encrypted_content"] = None
        self.items.append(item)
        common = {"item_id": o["id"], "output_index": o["index"], "content_index": 0}
        done = {"text": text, **({"logprobs": []} if kind == "message" else {})}
        return [self._event(f"{DELTA[kind]}.done", **common, **done),
                self._event("response.content_part.done", **common, part=part),
                self._event("response.output_item.done", output_index=o["index"], item=item)]

    def _call(self, out: ToolCallOut) -> list[tuple[str, dict]]:
        index = len(self.items)
        args = json.dumps(out.arguments, ensure_ascii=False)
        call = Call(out.name, dict(out.arguments), new_id("call"))
        self.calls.append(call)
        item = {"id": new_id("fc"), "type": "function_call", "status": "in_progress",
                "call_id": call.id, "name": out.name, "arguments": ""}
        done = {**item, "status": "completed", "arguments": args}
        self.items.append(done)
        return [
            self._event("response.output_item.added", output_index=index, item=item),
            self._event("response.function_call_arguments.delta", item_id=item["id"],
                        output_index=index, delta=args),
            self._event("response.function_call_arguments.done", item_id=item["id"],
                        output_index=index, arguments=args, name=out.name),
            self._event("response.output_item.done", output_index=index, item=done),
        ]

    def finish(self, done: Done) -> tuple[list[tuple[str, dict]], dict]:
        """The closing events and the final response object."""
        events = self.close()
        if done.reason == "length":
            final = self.response("incomplete", done.usage, incomplete="max_output_tokens")
            return events + [self._event("response.incomplete", response=final)], final
        final = self.response("completed", done.usage)
        final["completed_at"] = int(time.time())
        return events + [self._event("response.completed", response=final)], final

    def fail(self, error: TurnError) -> tuple[str, dict]:
        code = openai_code(error.status, error.kind) or "invalid_prompt"
        failed = self.response("failed", error={"code": code, "message": str(error)})
        return self._event("response.failed", response=failed)
