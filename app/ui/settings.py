"""The app's preferences: one typed class over QSettings, every key in one `Key` enum.

QSettings may hand back strings ("true", "0.7") from an INI or plist file; `value` converts them to
the type of the default. `data_dir()` is where conversations, attachments and the demo checkpoint
live.
Whether the drafter pays off depends on the device: the engine says so when a model loads
(`ModelLoaded.drafter_pays_off`) and the window passes it to `set_default`; until the person
chooses, each turn leaves the choice to the engine (`use_drafter=None`). This module imports no MLX.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from engine.protocol import GenerationSettings

DATA_DIR_ENV = "TANDEM_DATA_DIR"  # overrides the data folder (tests, portable installs)
IMAGE_BUDGETS = (70, 140, 280, 560, 1120)  # soft tokens per image the model was trained with
KV_PRECISIONS = (0, 8, 4)  # bits per value of the long-range layers' keys and values; 0 = full precision


class Key(str, Enum):
    MODEL_PATH = "model/path"  # local folder or Hugging Face repo id; "" = not chosen yet
    DRAFTER_PATH = "model/drafter_path"
    SYSTEM_PROMPT = "chat/system_prompt"
    TEMPERATURE = "generation/temperature"
    TOP_P = "generation/top_p"
    MAX_TOKENS = "generation/max_tokens"
    THINKING = "generation/thinking"
    USE_DRAFTER = "generation/use_drafter"
    IMAGE_BUDGET = "media/image_budget"
    KV_BITS = "memory/kv_bits"  # a KV_PRECISIONS value, for conversations opened from then on
    WINDOW_GEOMETRY = "window/geometry"
    WINDOW_STATE = "window/state"
    SPLITTER_STATE = "window/splitter"
    LAST_CONVERSATION = "window/last_conversation"
    AGENT_WORKSPACE = "agent/workspace"  # the folder the coding agent last worked in
    AGENT_APPROVAL_MODE = "agent/approval_mode"  # an app.agent.ApprovalMode value
    AGENT_MAX_STEPS = "agent/max_steps"
    AGENT_MAX_MINUTES = "agent/max_minutes"
    AGENT_MAX_TOKENS = "agent/max_tokens"  # per model reply; a whole file written needs room
    VOICE_INPUT_DEVICE = "voice/input_device"  # a device name; "" = the system default input
    VOICE_HANDS_FREE = "voice/hands_free"  # the mic listens; silence ends each turn
    VOICE_SILENCE_S = "voice/silence_seconds"  # hands-free: silence that ends a turn
    VOICE_BARGE_IN = "voice/barge_in"  # speaking while the model answers stops the answer
    VOICE_SPEAK_ANSWERS = "voice/speak_answers"  # answers to voice turns are read aloud


DEFAULTS: dict[Key, Any] = {
    Key.MODEL_PATH: "",
    Key.DRAFTER_PATH: "",
    Key.SYSTEM_PROMPT: "",
    Key.TEMPERATURE: 1.0,
    Key.TOP_P: 0.95,
    Key.MAX_TOKENS: 1024,
    Key.THINKING: False,
    Key.USE_DRAFTER: False,  # until the engine says the drafter pays off here (a GPU; not a CPU)
    Key.IMAGE_BUDGET: 280,
    Key.KV_BITS: 0,
    Key.WINDOW_GEOMETRY: QByteArray(),
    Key.WINDOW_STATE: QByteArray(),
    Key.SPLITTER_STATE: QByteArray(),
    Key.LAST_CONVERSATION: "",
    Key.VOICE_INPUT_DEVICE: "",
    Key.VOICE_HANDS_FREE: False,
    Key.VOICE_SILENCE_S: 0.8,
    Key.VOICE_BARGE_IN: True,
    Key.VOICE_SPEAK_ANSWERS: False,
    Key.AGENT_WORKSPACE: "",
    Key.AGENT_APPROVAL_MODE: "ask",
    Key.AGENT_MAX_STEPS: 30,
    Key.AGENT_MAX_MINUTES: 30,
    Key.AGENT_MAX_TOKENS: 4096,
}


def data_dir() -> Path:
    """The app's data folder: $TANDEM_DATA_DIR, else the platform's AppDataLocation."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".tandem")


class Settings:
    """Typed access to QSettings. Pass a QSettings to use a specific file (tests do)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._q = qsettings if qsettings is not None else default_qsettings()
        self._defaults = dict(DEFAULTS)

    def value(self, key: Key) -> Any:
        default = self._defaults[key]
        raw = self._q.value(key.value, default)
        if raw is None:
            return default
        try:
            if isinstance(default, bool):
                return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
            if isinstance(default, int):
                return int(raw)
            if isinstance(default, float):
                return float(raw)
            if isinstance(default, str):
                return str(raw)
        except (TypeError, ValueError):
            return default  # a hand-edited file with junk in it must not stop the app
        return raw

    def set_value(self, key: Key, value: Any) -> None:
        self._q.setValue(key.value, value)

    def is_set(self, key: Key) -> bool:
        """Whether the file holds a value for `key` (the person chose one), not just the default."""
        return self._q.contains(key.value)

    def set_default(self, key: Key, value: Any) -> None:
        """A default learned while the app runs (the device's, from the engine); never written."""
        self._defaults[key] = value

    def system_prompt(self) -> str:
        return self.value(Key.SYSTEM_PROMPT)

    def sync(self) -> None:
        self._q.sync()

    def image_budget(self) -> int:
        budget = self.value(Key.IMAGE_BUDGET)
        return budget if budget in IMAGE_BUDGETS else DEFAULTS[Key.IMAGE_BUDGET]

    def kv_bits(self) -> int | None:
        """8 or 4 for a quantized KV cache (OpenSession.kv_bits), None for full precision."""
        bits = self.value(Key.KV_BITS)
        return bits if bits in KV_PRECISIONS and bits else None

    def generation_settings(self) -> GenerationSettings:
        return GenerationSettings(
            temperature=max(0.0, self.value(Key.TEMPERATURE)),
            top_p=min(1.0, max(0.0, self.value(Key.TOP_P))),
            max_tokens=max(1, self.value(Key.MAX_TOKENS)),
            enable_thinking=self.value(Key.THINKING),
            use_drafter=self.value(Key.USE_DRAFTER) if self.is_set(Key.USE_DRAFTER) else None,
        )


def default_qsettings(root: Path | None = None) -> QSettings:
    """An INI file in `root` (or $TANDEM_DATA_DIR) when given, else the platform's native store
    (a plist on macOS)."""
    if root is None and os.environ.get(DATA_DIR_ENV):
        root = data_dir()
    if root is not None:
        return QSettings(str(Path(root) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings("Tandem", "Tandem")
