"""A stand-in for `engine.worker.EngineWorker` with exactly its interface, for GUI tests.

It runs its own thread, reads commands from a queue and answers with the real `engine.protocol`
events, calling `on_event` on that thread as the real worker does. Answers come from `replies`
(used in order, then an echo), streamed word by word with `token_delay` seconds between words;
`prefill_delay` makes it sleep before the first word (a long prefill); `media_error` makes every
`PrepareMedia` fail (images that pass the app's checks but not the engine's); `text_only` loads a model
without vision and audio (ModelLoaded.has_vision/has_audio False). As in the real
engine, `OpenSession` fails until a model is loaded; `LoadModel("missing")` fails. `Cancel` takes effect
between words, like the real engine's check between decode steps. Every command is kept in
`commands` for tests to inspect.
`memory_note` is ModelLoaded's (the macOS GPU limit sentence); `emit(event)` sends any event as the
engine thread would (an eviction, say).
`refuse` refuses every message with that sentence (a request that would not fit in memory).
`parse_error` ends each answer with a call that could not be read (a `ParseErrorEvent`, that raw text).
`prefill_progress` makes each answer start with a long prefill that reports Progress (1 of 4) and
waits for a Cancel (then the turn ends "cancelled", as the real engine's does) or 10 s.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable

from engine import protocol as ev


class FakeEngineWorker:
    def __init__(
        self,
        on_event: Callable[[ev.Event], None],
        replies: list[str] | None = None,
        token_delay: float = 0.0,
        prefill_delay: float = 0.0,
        thinking: str = "",
        tool_call: tuple[str, dict] | None = None,
        parse_error: str = "",
        prefill_progress: bool = False,
        random_weights: bool = True,
        media_error: str = "",
        text_only: bool = False,
        drafter_pays_off: bool = False,
        memory_note: str = "",
        refuse: str = "",
    ) -> None:
        self._on_event = on_event
        self.replies = list(replies or [])
        self.token_delay = token_delay
        self.prefill_delay = prefill_delay
        self.thinking = thinking
        self.tool_call = tool_call
        self.parse_error = parse_error
        self.prefill_progress = prefill_progress
        self.random_weights = random_weights
        self.media_error = media_error  # when set, every PrepareMedia fails with this message
        self.text_only = text_only
        self.drafter_pays_off = drafter_pays_off  # what ModelLoaded says about this "device"
        self.memory_note = memory_note  # what ModelLoaded says about the GPU's memory limit
        self.refuse = refuse  # when set, every SendMessage is refused with it ("too_long", engine.admission)
        self.commands: list[ev.Command] = []
        self.histories: dict[str, list] = {}  # session_id -> the last LoadHistory's messages
        self.fail_paths: set[str] = set()  # LoadModel fails on these (and on "missing")
        self.sessions: dict[str, list] = {}  # session_id -> user turn contents
        self.model_path = ""  # sessions need a model, as in the real engine
        self.voice_samples = 0  # samples of the open voice turn
        self.generating = threading.Event()
        self._cancel = threading.Event()
        self._queue: queue.Queue[ev.Command | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="fake-engine", daemon=True)

    # ------------------------------------------------------------ the EngineWorker interface

    def start(self) -> None:
        self._thread.start()

    def submit(self, command: ev.Command) -> int:
        self.commands.append(command)
        if isinstance(command, ev.Cancel):
            self._cancel.set()  # seen between words even while a turn is streaming
        self._queue.put(command)
        return command.request_id

    def stop(self, timeout: float = 5.0) -> None:
        self._cancel.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------ helpers for tests

    def of_type(self, cls: type) -> list:
        return [c for c in self.commands if isinstance(c, cls)]

    # ------------------------------------------------------------ the engine thread

    def _run(self) -> None:
        while True:
            command = self._queue.get()
            if command is None:
                return
            handler = getattr(self, "_on_" + type(command).__name__, None)
            if handler is not None:
                handler(command)

    def _emit(self, event: ev.Event) -> None:
        self._on_event(event)

    def emit(self, event: ev.Event) -> None:
        """Send `event` to the app as the engine would (from a test)."""
        self._on_event(event)

    def _on_LoadModel(self, c: ev.LoadModel) -> None:
        if c.path == "missing" or c.path in self.fail_paths:
            self._emit(ev.ErrorEvent(request_id=c.request_id, message=f"no model at {c.path}"))
            return
        self.model_path = c.path
        self._emit(ev.Progress(request_id=c.request_id, stage="load", done=1, total=1))
        self._emit(ev.ModelLoaded(request_id=c.request_id, name=c.path.rstrip("/").split("/")[-1],
                                  path=c.path, random_weights=self.random_weights,
                                  has_drafter=c.drafter_path is not None, context_length=8192,
                                  memory_bytes=123 * 2**20, has_vision=not self.text_only,
                                  has_audio=not self.text_only,
                                  drafter_pays_off=self.drafter_pays_off,
                                  memory_note=self.memory_note))

    def _on_OpenSession(self, c: ev.OpenSession) -> None:
        if not self.model_path:
            self._emit(ev.ErrorEvent(session_id=c.session_id, request_id=c.request_id,
                                     message="no model is loaded yet"))
            return
        self.sessions[c.session_id] = []

    def _on_PrepareMedia(self, c: ev.PrepareMedia) -> None:
        item = c.item
        if self.media_error:
            self._emit(ev.ErrorEvent(session_id=c.session_id, request_id=c.request_id,
                                     message=self.media_error))
            return
        if item.get("type") == "image":
            from PIL import Image

            try:
                with Image.open(item["image"]) as im:
                    im.load()
            except Exception as exc:  # noqa: BLE001 - the real engine reports any decode failure
                self._emit(ev.ErrorEvent(session_id=c.session_id, request_id=c.request_id,
                                         message="Cannot read image", detail=str(exc)))
                return
        self._emit(ev.Progress(session_id=c.session_id, request_id=c.request_id,
                               stage=item.get("type", ""), done=1, total=1))

    def _on_SendMessage(self, c: ev.SendMessage) -> None:
        if c.session_id not in self.sessions:
            self._emit(ev.ErrorEvent(session_id=c.session_id, request_id=c.request_id,
                                     message="No such session", detail=c.session_id))
            return
        if self.refuse:
            self._emit(ev.ErrorEvent(session_id=c.session_id, request_id=c.request_id,
                                     kind="too_long", message=self.refuse))
            return
        self.sessions[c.session_id].append(c.content)
        self._generate(c.session_id, c.request_id, c.content)

    def _on_StartVoiceTurn(self, c: ev.StartVoiceTurn) -> None:
        self.voice_samples = 0

    def _on_AppendAudio(self, c: ev.AppendAudio) -> None:
        self.voice_samples += len(c.samples)

    def _on_EndVoiceTurn(self, c: ev.EndVoiceTurn) -> None:
        content = [{"type": "audio", "audio": f"<{self.voice_samples} samples>"},
                   {"type": "text", "text": c.text}]
        self.sessions.setdefault(c.session_id, []).append(content)
        self._generate(c.session_id, c.request_id, content)

    def _on_Regenerate(self, c: ev.Regenerate) -> None:
        turns = self.sessions.get(c.session_id) or [""]
        self._generate(c.session_id, c.request_id, turns[-1])

    def _on_Rollback(self, c: ev.Rollback) -> None:
        del self.sessions.setdefault(c.session_id, [])[c.turn:]

    def _on_SaveSession(self, c: ev.SaveSession) -> None:
        from pathlib import Path

        Path(c.path).parent.mkdir(parents=True, exist_ok=True)
        Path(c.path).write_text(repr(self.sessions.get(c.session_id)))
        self._emit(ev.SessionSaved(session_id=c.session_id, request_id=c.request_id, path=c.path))

    def _on_LoadHistory(self, c: ev.LoadHistory) -> None:
        """The session becomes the given turns; `histories` keeps what was fed, answers too."""
        self.sessions[c.session_id] = [m["content"] for m in c.messages if m["role"] == "user"]
        self.histories[c.session_id] = [(m["role"], m["content"]) for m in c.messages]

    def _on_WriteTitle(self, c: ev.WriteTitle) -> None:
        asked = c.text.split("\n")[0].removeprefix("User: ")
        self._emit(ev.TitleWritten(request_id=c.request_id, title=f"Model title for {asked}"))

    def _on_LoadSession(self, c: ev.LoadSession) -> None:
        self.sessions[c.session_id] = ["(restored)"]

    def _on_Cancel(self, c: ev.Cancel) -> None:
        self._cancel.clear()  # nothing was running when it arrived: it has no effect later

    def _generate(self, session_id: str, request_id: int, content) -> None:
        self._cancel.clear()
        self.generating.set()
        try:
            if self.prefill_delay:
                time.sleep(self.prefill_delay)
            if self.prefill_progress:
                self._emit(ev.Progress(session_id=session_id, request_id=request_id,
                                       stage="prefill", done=1, total=4))
                if self._cancel.wait(10):
                    self._emit(ev.TurnFinished(session_id=session_id, request_id=request_id,
                                               reason="cancelled"))
                    return
                self._emit(ev.Progress(session_id=session_id, request_id=request_id,
                                       stage="prefill", done=4, total=4))
            if self._cancel.is_set():  # stopped before the engine accepted it: nothing changes
                self._emit(ev.TurnFinished(session_id=session_id, request_id=request_id,
                                           reason="cancelled", text=""))
                return
            self._emit(ev.Accepted(session_id=session_id, request_id=request_id))
            text = self.replies.pop(0) if self.replies else "Echo: " + _text_of(content)
            if self.thinking:
                self._emit(ev.TextDelta(session_id=session_id, request_id=request_id,
                                        text=self.thinking, channel="thinking"))
            sent, reason = "", "stop"
            for piece in re.findall(r"\s*\S+", text):
                if self._cancel.is_set():
                    reason = "cancelled"
                    break
                self._emit(ev.TextDelta(session_id=session_id, request_id=request_id, text=piece))
                sent += piece
                if self.token_delay:
                    time.sleep(self.token_delay)
            if reason == "stop" and self.tool_call:
                name, args = self.tool_call
                self._emit(ev.ToolCallEvent(session_id=session_id, request_id=request_id,
                                            name=name, arguments=args))
            if reason == "stop" and self.parse_error:
                self._emit(ev.ParseErrorEvent(session_id=session_id, request_id=request_id,
                                              raw=self.parse_error,
                                              message="This tool call could not be read"))
            self._emit(ev.TurnStats(session_id=session_id, request_id=request_id, prompt_tokens=12,
                                    generated_tokens=len(sent.split()),
                                    decode_tokens_per_second=42.5, drafted=10, accepted=7))
            self._emit(ev.TurnFinished(session_id=session_id, request_id=request_id,
                                       reason=reason, text=sent))
        finally:
            self._cancel.clear()
            self.generating.clear()


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    return " ".join(i.get("text", "") for i in content if i.get("type") == "text")
