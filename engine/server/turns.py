"""One request's turn on the engine: plan it on the pool, send the commands, stream the outputs.

Contract:
- `TurnRunner.start(request)` checks the request's shape, decodes the new turn's media (off the
  event loop), plans it on the `SessionPool` and submits the commands: `OpenSession` for a fresh
  conversation, `Rollback` to go back to an earlier user turn, then `SendMessage` or
  `SendToolResults`. It returns a `TurnRun` whose `outputs()` yields `PrefillOut` (prefill progress),
  `TextOut`, `ToolCallOut` and finally one `Done`, or raises `TurnError` for an engine error.
- The pool entry is settled when the engine finishes the turn, whether or not anyone still reads:
  the kept conversation becomes the request's turns plus the answer the cache holds (the whole
  answer, even past a stop string), or stays as it was when the engine refused the turn.
- `TurnRun.abort()` cancels the generation: it sends `Cancel` until the engine has finished the turn
  (a `Cancel` that arrives before the command starts is cleared by the worker when it starts, so one
  is not enough). Leaving `outputs()` early (a client that disconnected) aborts.
- A stop string ends the output there (`Done.reason == "stop_sequence"`) and aborts the rest.
- Usage: `prompt_tokens` is the whole conversation's prompt in the cache, `cached_tokens` the part
  reused from a kept session, `prefilled_tokens` the part fed for this request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from engine import protocol as ev
from engine.server.errors import TurnError
from engine.server.event_router import EventRouter
from engine.server.items import (
    ConversationItem,
    RequestError,
    ToolResultsTurn,
    TurnRequest,
    UserTurn,
    assistant_turn,
    template_messages,
)
from engine.server.pool import Plan, SessionPool
from engine.server.stops import StopMatcher


@dataclass
class TextOut:
    text: str
    channel: str = "answer"


@dataclass
class ToolCallOut:
    name: str
    arguments: dict


@dataclass
class PrefillOut:
    """Prefill progress of the turn's prompt, in tokens."""

    done: int
    total: int


def is_progress(out) -> bool:
    return isinstance(out, PrefillOut)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def prefilled_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens


@dataclass
class Done:
    reason: str  # "stop", "length", "tool_calls", "stop_sequence", "cancelled"
    usage: Usage
    stop_sequence: str | None = None


def _status_of(event: ev.ErrorEvent) -> int:
    if event.kind == "no_model":
        return 503
    # An engine fault is ours; any other kind is a refusal of this request (nothing changed).
    return 500 if event.kind == "internal" else 400


class TurnRunner:
    def __init__(self, router: EventRouter, pool: SessionPool) -> None:
        self.router = router
        self.pool = pool

    async def start(self, request: TurnRequest) -> TurnRun:
        request.check_shape()
        new = request.turns[-1]
        content = None
        if isinstance(new, UserTurn):
            content = await asyncio.to_thread(new.build)
        if not self.router.engine_alive:
            raise TurnError("the engine is not running", 503)
        plan = self.pool.plan(request.key, request.turns)
        history = None
        if plan.kind == "history":
            try:
                history = await asyncio.to_thread(template_messages, request.turns)
            except BaseException:
                self.pool.discard(plan.entry)
                raise
        turn = TurnRun(self, plan, request)
        turn.submit(content, history)
        return turn


class TurnRun:
    def __init__(self, runner: TurnRunner, plan: Plan, request: TurnRequest) -> None:
        self.router = runner.router
        self.pool = runner.pool
        self.plan = plan
        self.request = request
        self.queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self.rids: list[int] = []
        self.final_rid = 0
        self.stats: ev.TurnStats | None = None
        self.calls: list[tuple[str, dict]] = []
        self.answer_seen = False
        self.conversation: list[ConversationItem] | None = None  # what the cache holds, once done
        self.finished = False
        self.aborted = False
        self._cancel_delay = 0.05

    # ------------------------------------------------------------ commands

    def submit(self, content, history: list[dict] | None = None) -> None:
        entry, key, req = self.plan.entry, self.request.key, self.request
        sid = entry.session_id
        commands: list[ev.Command] = []
        if self.plan.kind in ("fresh", "history"):
            commands.append(
                ev.OpenSession(
                    session_id=sid,
                    system_prompt=key.system_prompt,
                    tools=key.tools,
                    image_budget=key.image_budget,
                )
            )
            entry.opened = True
        if self.plan.rollback_to is not None:
            commands.append(ev.Rollback(session_id=sid, turn=self.plan.rollback_to))
        if self.plan.kind == "history":
            answer_tools = isinstance(self.plan.new_turn, ToolResultsTurn)
            load = ev.LoadHistory(session_id=sid, messages=history if answer_tools else history[:-1],
                                  answer=answer_tools, settings=req.settings)
            commands.append(load)
            if answer_tools:  # the model answers the tool results right after the history
                self.final_rid = load.request_id
                for c in commands:
                    self.rids.append(c.request_id)
                    self.router.submit(c, self.on_event)
                return
        if isinstance(self.plan.new_turn, ToolResultsTurn):
            final: ev.Command = ev.SendToolResults(
                session_id=sid, results=self.plan.new_turn.engine_results(), settings=req.settings
            )
        else:
            final = ev.SendMessage(session_id=sid, content=content, settings=req.settings)
        commands.append(final)
        self.final_rid = final.request_id
        for c in commands:
            self.rids.append(c.request_id)
            self.router.submit(c, self.on_event)

    # ------------------------------------------------------------ events (loop thread)

    def on_event(self, event: ev.Event) -> None:
        if self.finished:
            return
        if isinstance(event, ev.ErrorEvent):
            self._settle_error(event)
            self.queue.put_nowait(event)
            return
        if isinstance(event, ev.Progress) and event.stage == "prefill":
            self.queue.put_nowait(event)
            return
        if event.request_id != self.final_rid:
            return
        if isinstance(event, ev.ToolCallEvent):
            self.answer_seen = True
            self.calls.append((event.name, event.arguments))
        elif isinstance(event, ev.TextDelta):
            self.answer_seen = True
        elif isinstance(event, ev.TurnStats):
            self.stats = event
            return
        elif isinstance(event, ev.TurnFinished):
            self._settle_finished(event)
        else:
            return
        self.queue.put_nowait(event)

    def _base(self) -> tuple[list, list[int]]:
        base = list(self.request.turns[:-1])
        users = sum(isinstance(t, UserTurn) for t in base)
        offsets = list(self.plan.entry.user_offsets[:users])
        return base, offsets + [0] * (users - len(offsets))  # unknown after a history load

    def _settle_finished(self, event: ev.TurnFinished) -> None:
        entry = self.plan.entry
        base, offsets = self._base()
        new = self.plan.new_turn
        if self.stats is not None:  # the answer (maybe partial) is in the cache
            entry.turns = base + [new, assistant_turn(event.text, self.calls)]
            self.conversation = list(entry.turns)
            entry.user_offsets = offsets + (
                [self.plan.start_offset] if isinstance(new, UserTurn) else []
            )
            entry.context_used = self.stats.context_used
            entry.awaiting_tools = event.reason == "tool_calls"
            self.pool.checkin(entry)
        elif isinstance(new, UserTurn):  # cancelled during prefill: the engine undid the turn
            self._keep_base(base, offsets)
        else:
            self.pool.discard(entry)
        self._close()

    def _settle_error(self, event: ev.ErrorEvent) -> None:
        refused = (
            event.request_id == self.final_rid
            and not self.answer_seen
            and self.stats is None
            and isinstance(self.plan.new_turn, UserTurn)
            and not event.detail
        )
        if refused:  # a refused turn changes nothing in the session
            self._keep_base(*self._base())
        else:
            self.pool.discard(self.plan.entry)
        self._close()

    def _keep_base(self, base: list, offsets: list[int]) -> None:
        entry = self.plan.entry
        if not base:  # nothing kept worth a session
            self.pool.discard(entry)
            return
        entry.turns, entry.user_offsets = base, offsets
        entry.context_used = self.plan.start_offset
        entry.awaiting_tools = False
        self.pool.checkin(entry)

    def _close(self) -> None:
        self.finished = True
        for rid in self.rids:
            self.router.forget(rid)

    # ------------------------------------------------------------ cancel

    def abort(self) -> None:
        if self.finished or self.aborted:
            return
        self.aborted = True
        self._cancel_tick()

    def _cancel_tick(self) -> None:
        if self.finished or not self.router.engine_alive:
            return
        self.router.submit(ev.Cancel(session_id=self.plan.entry.session_id))
        asyncio.get_running_loop().call_later(self._cancel_delay, self._cancel_tick)
        self._cancel_delay = min(self._cancel_delay * 2, 2.0)

    # ------------------------------------------------------------ outputs

    def usage(self) -> Usage:
        s = self.stats
        if s is None:
            return Usage(cached_tokens=self.plan.start_offset, prompt_tokens=self.plan.start_offset)
        return Usage(
            prompt_tokens=s.prompt_tokens,
            completion_tokens=s.generated_tokens,
            cached_tokens=self.plan.start_offset,
        )

    async def outputs(self) -> AsyncIterator[PrefillOut | TextOut | ToolCallOut | Done]:
        stops = StopMatcher(self.request.stop)
        hit: str | None = None
        try:
            while True:
                event = await self.queue.get()
                if isinstance(event, ev.ErrorEvent):
                    raise TurnError(event.message, _status_of(event), event.kind)
                if isinstance(event, ev.Progress):
                    yield PrefillOut(event.done, event.total)
                    continue
                if isinstance(event, ev.TurnFinished):
                    rest = "" if hit else stops.flush()
                    if rest:
                        yield TextOut(rest)
                    reason = "stop_sequence" if hit else event.reason
                    yield Done(reason, self.usage(), hit)
                    return
                if hit:
                    continue  # past a stop string: wait for the cancelled turn to end
                if isinstance(event, ev.TextDelta) and event.channel == "answer":
                    text, hit = stops.feed(event.text)
                    if text:
                        yield TextOut(text)
                    if hit:
                        self.abort()
                elif isinstance(event, ev.TextDelta):
                    yield TextOut(event.text, event.channel)
                elif isinstance(event, ev.ToolCallEvent):
                    yield ToolCallOut(event.name, dict(event.arguments))
        finally:
            if not self.finished:
                self.abort()


__all__ = [
    "Done",
    "PrefillOut",
    "is_progress",
    "RequestError",
    "TextOut",
    "ToolCallOut",
    "TurnRun",
    "TurnError",
    "TurnRunner",
    "Usage",
]
