"""The title a conversation gets from its first message until someone (or the model) names it.

Text gives the title (its first 48 characters). A message with only attachments gets a readable
one: "Voice message · 0:08" for a recording, "Audio · talk.mp3", "Image · photo.png", "Video · screen.mov",
"Pasted image".
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

DEFAULT_TITLE = "New chat"
RECORDING_NAME = "Voice message.wav"  # what a spoken turn's recording is called
PASTED_IMAGE_NAME = "Pasted image.png"  # what a pasted image is called
MAX_TITLE = 48


class AttachedFile(Protocol):
    kind: str
    filename: str
    path: Path


def first_message_title(content: str, attachments: Sequence[AttachedFile] = ()) -> str:
    line = " ".join(content.split())
    if not line and attachments:
        line = attachment_title(attachments[0])
    if len(line) > MAX_TITLE:
        line = line[:MAX_TITLE - 1].rstrip() + "…"
    return line or DEFAULT_TITLE


def attachment_title(attachment: AttachedFile) -> str:
    if attachment.filename == RECORDING_NAME:
        seconds = wav_seconds(attachment.path)
        return "Voice message" + (f" · {int(seconds) // 60}:{int(seconds) % 60:02d}"
                                  if seconds is not None else "")
    if attachment.filename == PASTED_IMAGE_NAME:
        return "Pasted image"
    label = {"image": "Image", "video": "Video"}.get(attachment.kind, "Audio")
    return f"{label} · {attachment.filename}" if attachment.filename else label


def wav_seconds(path: Path) -> float | None:
    """The length of a WAV file, rounded to the nearest second; None when it cannot be read."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            return round(wav.getnframes() / rate) if rate else None
    except (OSError, EOFError, wave.Error):
        return None
