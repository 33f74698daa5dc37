"""`AgentModel` on the real engine: one engine session per agent run.

The adapter turns the loop's blocking calls into engine commands and waits for that command's events.
Engine events reach it through `deliver(event)`, which whoever owns the engine's event callback must
call (the app's bridge forwards events of the agent's session id; a test wires the worker straight
to it). `deliver` may be called on any thread; the loop's calls block on the loop's own thread, never
on the GUI thread.

Tool results go back as the engine's `SendToolResults` when the engine is waiting for them (the
reply ended asking for tool responses with at least one call that parsed). Otherwise (every call
in the reply was malformed, so the engine ended the turn; or the reply was cut off) they go back as
a new user turn (`SendMessage`) that carries the responses, the format hint
included, so the run goes on either way.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Callable

from app.agent.model import Reply
from engine import protocol as ev
from engine.inputs.types import ToolCall

Submit = Callable[[ev.Command], int]


class EngineModelError(RuntimeError):
    """The engine reported an error for the agent's request."""


class EngineAgentModel:
    def __init__(self, submit: Submit, session_id: str,
                 settings: ev.GenerationSettings | None = None, image_budget: int = 280) -> None:
        self.submit = submit
        self.session_id = session_id
        self.settings = settings or ev.GenerationSettings(temperature=0.0, max_tokens=1024)
        self.image_budget = image_budget
        self._inbox: dict[int, queue.SimpleQueue] = {}
        self._lock = threading.Lock()
        self._engine_awaits_tools = False  # the last reply ended asking for tool responses

    def deliver(self, event: ev.Event) -> None:
        with self._lock:
            box = self._inbox.get(event.request_id)
        if box is not None:
            box.put(event)

    # ------------------------------------------------------------ AgentModel

    def begin(self, system_prompt: str, tools: list[dict], task: str | list[dict]) -> Reply:
        self._open(system_prompt, tools)
        return self._ask(ev.SendMessage(session_id=self.session_id, content=task,
                                        settings=self.settings))

    def reply_to_tools(self, results: list[dict]) -> Reply:
        if self._engine_awaits_tools:
            return self._ask(ev.SendToolResults(session_id=self.session_id, results=results,
                                                settings=self.settings))
        return self._ask(ev.SendMessage(session_id=self.session_id,
                                        content=results_as_message(results),
                                        settings=self.settings))

    def restart(self, system_prompt: str, tools: list[dict], messages: list[dict]) -> Reply:
        self._open(system_prompt, tools)
        return self._ask(ev.LoadHistory(session_id=self.session_id, messages=messages,
                                        answer=True, settings=self.settings))

    def cancel(self) -> None:
        self.submit(ev.Cancel(session_id=self.session_id))

    # ------------------------------------------------------------ internals

    def _open(self, system_prompt: str, tools: list[dict]) -> None:
        self.submit(ev.OpenSession(session_id=self.session_id, system_prompt=system_prompt,
                                   tools=tools, image_budget=self.image_budget))

    def _ask(self, command: ev.Command) -> Reply:
        box: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            self._inbox[command.request_id] = box
        try:
            self.submit(command)
            text, thinking, calls, errors = [], [], [], []
            while True:
                event = box.get()
                if isinstance(event, ev.TextDelta):
                    (thinking if event.channel == "thinking" else text).append(event.text)
                elif isinstance(event, ev.ToolCallEvent):
                    calls.append(ToolCall(event.name, dict(event.arguments)))
                elif isinstance(event, ev.ParseErrorEvent):
                    errors.append(event.raw)
                elif isinstance(event, ev.ErrorEvent):
                    self._engine_awaits_tools = False
                    raise EngineModelError(event.message)
                elif isinstance(event, ev.TurnFinished):
                    self._engine_awaits_tools = event.reason == "tool_calls" and bool(calls)
                    return Reply("".join(text).strip(), "".join(thinking).strip(), calls, errors,
                                 event.reason)
        finally:
            with self._lock:
                self._inbox.pop(command.request_id, None)


def results_as_message(results: list[dict]) -> str:
    """Tool responses as the text of a user turn, for when the engine awaits none."""
    lines = ["The responses to the tool calls in your last answer:"]
    for result in results:
        response = json.dumps(result.get("response"), ensure_ascii=False, default=str)
        lines.append(f"{result.get('name', 'invalid_call')}: {response}")
    return "\n".join(lines)
