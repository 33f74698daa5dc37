"""The engine thread: it owns the model and makes every MLX call.

Callers `submit` commands (`engine.protocol`); the thread runs them one at a time, each by its handler
in `EngineWorker.handlers` (command class -> method), and reports through `on_event`, which it calls on
the engine thread with events that carry the command's ids. `submit` never blocks. An exception in a
command becomes an `ErrorEvent` with its kind (a `SessionError`'s, else "internal"); the thread goes on
serving the next command.

`Cancel` (for one session, or all) acts at once, through `CancelBook`: every command is numbered when it is
submitted, and a Cancel reaches the answering commands of its session submitted before it (still queued:
they end with TurnFinished(reason="cancelled") without running) and whatever command of its session is
running when it arrives (the session checks between chunks and tokens). Nothing is ever cleared, so no
Cancel is lost between a check and a reset.
`WriteTitle` is background work: it runs only when no other command waits, and any other command submitted
stops it (`engine.title`).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

import mlx.core as mx

from engine import protocol as ev
from engine.loading import LoadedModel, load_everything
from engine.session import Cancelled, NotFound, SessionError
from engine.admission import wired_limit_note
from engine.session_budget import SessionBudget, default_limit

EventCallback = Callable[[ev.Event], None]
Handler = Callable[[Any], Iterator[ev.Event]]


class NoModelLoaded(SessionError):
    kind = "no_model"

# Commands that produce an answer; a Cancel drops those still waiting in the queue.
ANSWERING = (ev.SendMessage, ev.SendToolResults, ev.Regenerate, ev.EndVoiceTurn, ev.LoadHistory)
MAX_PREPARED = 16  # prepared media kept per session for a Send to come; the oldest goes first


class CancelBook:
    """Which commands a Cancel reaches (module docstring), decided by submission numbers under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._latest: dict[str, int] = {}  # session id, or "*" for all: number of its latest Cancel

    def stamp(self, command: ev.Command) -> int:
        """Number `command` in submission order (a Cancel is recorded as it is numbered)."""
        with self._lock:
            self._count += 1
            if isinstance(command, ev.Cancel):
                self._latest[command.session_id or "*"] = self._count
            return self._count

    def threshold(self, command: ev.Command, number: int) -> int:
        """When `command` (numbered `number`) starts: Cancels numbered above the result reach it.

        An answering command is reached by any Cancel submitted after it; another command only by one
        submitted while it runs (it is not dropped for a Cancel that was aimed at an answer before it).
        """
        with self._lock:
            return number if isinstance(command, ANSWERING) else self._count

    def reached(self, session_id: str | None, threshold: int) -> bool:
        with self._lock:
            latest = max(self._latest.get(session_id or "", 0), self._latest.get("*", 0))
        return latest > threshold


class CommandCancel:
    """A session's cancel flag: set once a Cancel reaches the command the session is running."""

    def __init__(self, book: CancelBook, session_id: str) -> None:
        self.book, self.session_id = book, session_id
        self.threshold: int | None = None  # None: no command of this session is running

    def is_set(self) -> bool:
        return self.threshold is not None and self.book.reached(self.session_id, self.threshold)


class EngineWorker:
    def __init__(self, on_event: EventCallback, memory_budget: int | None = None,
                 eviction_folder: str | Path | None = None) -> None:
        """`memory_budget`: bytes of conversation caches kept in memory (None: from the machine's memory and
        the model's size); idle conversations beyond it go to `eviction_folder` (`engine.session_budget`)."""
        self.on_event = on_event
        self.memory_budget, self.eviction_folder = memory_budget, eviction_folder
        self.budget: SessionBudget | None = None
        self.commands: queue.SimpleQueue[tuple[int, ev.Command] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="tandem-engine", daemon=True)
        self.loaded: LoadedModel | None = None
        self.sessions: dict = {}
        self.cancels = CancelBook()
        self.cancel_flags: dict[str, CommandCancel] = {}
        self.media: dict[str, dict] = {}  # session_id -> {path: preprocessed media}, oldest first
        self.busy = threading.Event()
        self.title_cancel = threading.Event()  # set by any command but a WriteTitle (engine.title)
        self.handlers: dict[type[ev.Command], Handler] = {
            ev.LoadModel: self._load_model,
            ev.OpenSession: self._open_session,
            ev.CloseSession: self._close_session,
            ev.SendMessage: self._send_message,
            ev.SendToolResults: self._send_tool_results,
            ev.LoadHistory: self._load_history,
            ev.PrepareMedia: self._prepare_media,
            ev.StartVoiceTurn: self._start_voice_turn,
            ev.AppendAudio: self._append_audio,
            ev.PrepareVoiceAnswer: self._prepare_voice_answer,
            ev.EndVoiceTurn: self._end_voice_turn,
            ev.Rollback: self._rollback,
            ev.Regenerate: self._regenerate,
            ev.Cancel: self._cancel,
            ev.SaveSession: self._save_session,
            ev.LoadSession: self._load_session,
            ev.WriteTitle: self._write_title,
        }

    # ------------------------------------------------------------ public API

    def start(self) -> None:
        self.thread.start()

    def submit(self, command: ev.Command) -> int:
        if not isinstance(command, ev.WriteTitle):
            self.title_cancel.set()  # a title is background work: anything else comes first
        self.commands.put((self.cancels.stamp(command), command))
        return command.request_id

    def stop(self, timeout: float = 5.0) -> None:
        self.cancels.stamp(ev.Cancel())  # stops whatever runs now
        self.commands.put(None)
        if self.thread.is_alive():
            self.thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        stream = mx.new_stream(mx.default_device())
        with mx.stream(stream):
            while True:
                item = self.commands.get()
                if item is None or isinstance(item[1], ev.Shutdown):
                    return
                number, command = item
                if isinstance(command, ev.WriteTitle):
                    self.title_cancel.clear()  # a command submitted from now on stops it
                    if not self.commands.empty():
                        self.commands.put(item)  # only when idle: after what waits
                        continue
                self.busy.set()
                try:
                    self._dispatch(command, number)
                except BaseException as e:  # noqa: BLE001 - the thread must outlive any command
                    self._emit(ev.ErrorEvent(message=_describe(e), detail=traceback.format_exc()),
                               command)
                finally:
                    self.busy.clear()

    def _emit(self, event: ev.Event, command: ev.Command) -> None:
        """Send `event` with the ids of the command it answers."""
        session_id = event.session_id or _session_of(command) or ""
        event = dataclasses.replace(event, request_id=command.request_id, session_id=session_id)
        try:
            self.on_event(event)
        except Exception:  # a broken listener must not take the engine down
            traceback.print_exc()

    def _dispatch(self, command: ev.Command, number: int) -> None:
        handler = self.handlers.get(type(command))
        if handler is None:
            self._emit(ev.ErrorEvent(message=f"the engine does not know the command "
                                             f"{type(command).__name__}", kind="bad_request"), command)
            return
        sid = _session_of(command)
        threshold = self.cancels.threshold(command, number)
        if isinstance(command, ANSWERING) and self.cancels.reached(sid, threshold):
            self._emit(ev.TurnFinished(reason="cancelled"), command)  # cancelled while queued
            return
        flag = self.cancel_flags.get(sid) if sid and not isinstance(command, ev.Cancel) else None
        if flag is not None:
            flag.threshold = threshold
        try:
            if self.budget is not None and sid:
                for event in self.budget.ensure_loaded(sid, self.sessions):
                    self._emit(event, command)
            for event in handler(command):
                self._emit(event, command)
            if self.budget is not None:
                for event in self.budget.enforce(self.sessions, keep=sid):
                    self._emit(event, command)
        except Cancelled:
            self._emit(ev.TurnFinished(reason="cancelled"), command)
        except SessionError as e:
            self._emit(ev.ErrorEvent(message=str(e), kind=e.kind), command)
        except Exception as e:  # noqa: BLE001 - reported, and the engine stays up
            self._emit(ev.ErrorEvent(message=_describe(e), detail=traceback.format_exc()), command)
        finally:
            if flag is not None:
                flag.threshold = None

    # ------------------------------------------------------------ commands

    def _session(self, session_id: str):
        if self.loaded is None:
            raise NoModelLoaded("no model is loaded yet")
        if session_id not in self.sessions:
            raise NotFound(f"there is no open conversation '{session_id}'")
        return self.sessions[session_id]

    def _load_model(self, c: ev.LoadModel):
        from engine.decode.generation import drafter_pays_off

        yield ev.Progress(stage="load", done=0, total=1)
        self.loaded = load_everything(c.path, c.drafter_path, c.dtype)
        self.sessions.clear()
        if self.budget is not None:
            self.budget.forget_all()
        limit = self.memory_budget
        self.budget = SessionBudget(default_limit(int(mx.get_active_memory())) if limit is None else limit,
                                    self.eviction_folder)
        info = self.loaded
        yield ev.Progress(stage="load", done=1, total=1)
        yield ev.ModelLoaded(
            name=info.name, path=str(info.path), random_weights=info.random_weights,
            has_drafter=info.drafter is not None, has_vision=info.has_vision, has_audio=info.has_audio,
            context_length=info.model.config.text_config.max_position_embeddings,
            memory_bytes=int(mx.get_active_memory()),
            drafter_pays_off=drafter_pays_off(),
            memory_note=wired_limit_note(),
        )

    def _write_title(self, c: ev.WriteTitle):
        from engine.title import write_title

        if self.loaded is None:
            raise NoModelLoaded("no model is loaded yet")
        return write_title(self.loaded, c.text, self.title_cancel)

    def _open_session(self, c: ev.OpenSession):
        from engine.session import Session, SessionOptions

        if self.loaded is None:
            raise NoModelLoaded("no model is loaded yet")
        flag = self.cancel_flags.setdefault(c.session_id, CommandCancel(self.cancels, c.session_id))
        opts = SessionOptions(system_prompt=c.system_prompt, tools=c.tools,
                              image_budget=c.image_budget, context_length=c.context_length,
                              kv_bits=c.kv_bits)
        m = self.loaded
        self.sessions[c.session_id] = Session(m.model, m.tokenizer, m.template, m.gen_config, opts,
                                              drafter=m.drafter, cancel=flag)
        return iter(())

    def _close_session(self, c: ev.CloseSession):
        self.sessions.pop(c.session_id, None)
        if self.budget is not None:
            self.budget.forget(c.session_id)
        self.cancel_flags.pop(c.session_id, None)
        self.media.pop(c.session_id, None)
        return iter(())

    def _send_message(self, c: ev.SendMessage):
        session = self._session(c.session_id)
        content, used = self._with_prepared(c.session_id, c.content)
        yield from session.send(content, c.settings)
        prepared = self.media.get(c.session_id, {})
        for key in used:  # kept until the message that uses them went through
            prepared.pop(key, None)

    def _send_tool_results(self, c: ev.SendToolResults):
        return self._session(c.session_id).send_tool_results(c.results, c.settings)

    def _load_history(self, c: ev.LoadHistory):
        return self._session(c.session_id).load_history(c.messages, c.settings, answer=c.answer)

    def _prepare_media(self, c: ev.PrepareMedia):
        from engine.inputs.image import preprocess_image

        session = self._session(c.session_id)
        item = c.item
        if item.get("type") == "image" and isinstance(item.get("image"), (str, Path)):
            key = str(item["image"])
            prepared = preprocess_image(key, max_soft_tokens=session.options.image_budget)
            kept = self.media.setdefault(c.session_id, {})
            kept.pop(key, None)
            kept[key] = prepared
            while len(kept) > MAX_PREPARED:
                del kept[next(iter(kept))]
            yield ev.Progress(stage="image", done=1, total=1)

    def _with_prepared(self, session_id: str, content) -> tuple[object, list[str]]:
        """`content` with prepared images in place of their paths, and the keys of those used."""
        prepared = self.media.get(session_id, {})
        if isinstance(content, str) or not prepared:
            return content, []
        out, used = [], []
        for item in content:
            key = str(item.get("image")) if item.get("type") == "image" else None
            if key in prepared:
                out.append({**item, "image": prepared[key]})
                used.append(key)
            else:
                out.append(item)
        return out, used

    def _start_voice_turn(self, c: ev.StartVoiceTurn):
        return self._session(c.session_id).start_voice(c.settings)

    def _append_audio(self, c: ev.AppendAudio):
        return self._session(c.session_id).append_audio(c.samples)

    def _prepare_voice_answer(self, c: ev.PrepareVoiceAnswer):
        # Work for a turn that may not end here: it gives way to any command submitted meanwhile.
        return self._session(c.session_id).prepare_answer(c.settings, lambda: not self.commands.empty(),
                                                          c.within_s)

    def _end_voice_turn(self, c: ev.EndVoiceTurn):
        return self._session(c.session_id).end_voice(c.text, c.settings)

    def _rollback(self, c: ev.Rollback):
        return self._session(c.session_id).rollback(c.turn)

    def _regenerate(self, c: ev.Regenerate):
        return self._session(c.session_id).regenerate(c.settings)

    def _cancel(self, c: ev.Cancel):
        return iter(())  # the flag was set in submit(); nothing is running now

    def _save_session(self, c: ev.SaveSession):
        from engine.session.persistence import save_session

        save_session(self._session(c.session_id), c.path)
        yield ev.SessionSaved(path=c.path)

    def _load_session(self, c: ev.LoadSession):
        from engine.session.persistence import load_session

        session = self._session(c.session_id)
        try:
            load_session(session, c.path)
        except Exception:  # noqa: BLE001 - any unreadable file: the stored turns instead, when given
            if c.fallback is None:
                raise
            yield from session.load_history(c.fallback, ev.GenerationSettings())


def _session_of(command: ev.Command) -> str | None:
    """The conversation a command acts on (a Cancel may name one, or none for all)."""
    if isinstance(command, (ev.SessionCommand, ev.Cancel)):
        return command.session_id
    return None


def _describe(error: Exception) -> str:
    text = str(error).strip()
    return text if text else "the engine failed on this request (the details are in the log)"
