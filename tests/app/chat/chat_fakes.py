"""Stand-ins for the chat core's tests: an engine that records commands, a listener that records
what it was told, and fixed preferences. No Qt, no threads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.chat import ChatCore
from app.store import Store
from engine import protocol as ev


class RecordingEngine:
    """`submit` keeps every command and hands out request ids, as the engine bridge does."""

    def __init__(self) -> None:
        self.commands: list[ev.Command] = []

    def submit(self, command: ev.Command) -> int:
        self.commands.append(command)
        return command.request_id

    def of_type(self, cls: type) -> list:
        return [c for c in self.commands if isinstance(c, cls)]

    def kinds(self) -> list[str]:
        return [type(c).__name__ for c in self.commands]


class RecordingListener:
    """Every ChatListener call as (method name, *arguments), in order; reads `store` when told."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[tuple] = []
        self.stored_when_told: list[
            list[str]
        ] = []  # the store's contents at each user_message_added

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args) -> None:
            self.calls.append((name, *args))
            if name == "user_message_added":
                self.stored_when_told.append([m.content for m in self.store.messages(args[0])])

        return record

    def named(self, name: str) -> list[tuple]:
        return [c[1:] for c in self.calls if c[0] == name]


@dataclass
class Preferences:
    prompt: str = "Be brief."
    budget: int = 280
    bits: int | None = None
    settings: ev.GenerationSettings = field(
        default_factory=lambda: ev.GenerationSettings(temperature=0.0, max_tokens=64)
    )

    def system_prompt(self) -> str:
        return self.prompt

    def image_budget(self) -> int:
        return self.budget

    def kv_bits(self) -> int | None:
        return self.bits

    def generation_settings(self) -> ev.GenerationSettings:
        return self.settings


def make_chat(
    store: Store, loaded: bool = True
) -> tuple[ChatCore, RecordingEngine, RecordingListener]:
    """A chat core on `store`; with `loaded`, a model was asked for and has loaded."""
    engine, listener = RecordingEngine(), RecordingListener(store)
    chat = ChatCore(store, engine.submit, Preferences(), listener)
    if loaded:
        chat.load_model(ev.LoadModel(path="models/fake"))
        chat.handle(ev.ModelLoaded(request_id=engine.commands[-1].request_id, name="fake"))
    return chat, engine, listener


def answer(chat: ChatCore, engine: RecordingEngine, text: str, reason: str = "stop") -> None:
    """The engine streams `text` word by word as the answer to the last answering command."""
    command = [
        c
        for c in engine.commands
        if isinstance(c, (ev.SendMessage, ev.Regenerate, ev.EndVoiceTurn))
    ][-1]
    sid, rid = command.session_id, command.request_id
    chat.handle(ev.Accepted(session_id=sid, request_id=rid))
    for piece in re.findall(r"\s*\S+", text):
        chat.handle(ev.TextDelta(session_id=sid, request_id=rid, text=piece))
    chat.handle(ev.TurnFinished(session_id=sid, request_id=rid, reason=reason, text=""))
