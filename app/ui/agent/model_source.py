"""Where an agent run's model comes from: `EngineModelSource` (the app's engine) or `SingleModel`.

`EngineModelSource` makes one `EngineAgentModel` per run, with its own engine session id. The
bridge hands that session's events to the model on the engine thread (`route_session`): the run's
thread waits on them without the GUI thread in between. The reply's text also streams out as
`text_streamed(text, channel)` on the GUI thread while the model writes it (the loop only sees whole
replies), so the view can show the step being written. `close` ends the engine session.
`SingleModel` hands out one given model (a scripted one in tests and demos).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from app.agent import AgentModel
from app.agent.engine_model import EngineAgentModel
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings
from engine import protocol as ev


class ModelSource(Protocol):
    def open(self) -> AgentModel: ...
    def close(self, model: AgentModel) -> None: ...


class SingleModel:
    """Hands out the one model it was given (a scripted model in tests and demos)."""

    def __init__(self, model: AgentModel) -> None:
        self.model = model

    def open(self) -> AgentModel:
        return self.model

    def close(self, model: AgentModel) -> None:
        pass


class EngineModelSource(QObject):
    """One `EngineAgentModel` per run on the bridge's engine, with the agent's generation settings."""

    text_streamed = Signal(str, str)  # a TextDelta of an agent session: text, "answer" or "thinking"

    def __init__(
        self, bridge: EngineBridge, settings: Settings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge, self.settings = bridge, settings
        self.models: dict[str, EngineAgentModel] = {}
        bridge.text_received.connect(self._stream)

    def open(self) -> EngineAgentModel:
        session_id = f"agent-{uuid.uuid4().hex[:12]}"
        generation = replace(
            self.settings.generation_settings(),
            max_tokens=max(1, self.settings.value(Key.AGENT_MAX_TOKENS)),
        )
        model = EngineAgentModel(
            self.bridge.submit, session_id, generation, self.settings.image_budget()
        )
        self.models[session_id] = model
        self.bridge.route_session(session_id, model.deliver)  # wakes the run's thread directly
        return model

    def close(self, model: AgentModel) -> None:
        if isinstance(model, EngineAgentModel) and self.models.pop(model.session_id, None):
            self.bridge.unroute_session(model.session_id)
            self.bridge.submit(ev.CloseSession(session_id=model.session_id))

    def _stream(self, event: ev.TextDelta) -> None:
        if event.session_id in self.models:
            self.text_streamed.emit(event.text, event.channel)
