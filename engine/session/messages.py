"""Chat messages as the session takes them, and as the chat template takes them.

A message's content is a string or a list of items (`{"type": "text", "text": ...}`,
`{"type": "image", "image": ...}`, `{"type": "audio", "audio": ...}`). The template renders only a
placeholder per media item; the payloads go to the prompt encoder separately.
"""

from __future__ import annotations


def media_of(content) -> tuple[list, list]:
    """The image and audio payloads of a message's content, in order."""
    if isinstance(content, str):
        return [], []
    images = [c.get("image") for c in content if c.get("type") == "image"]
    audios = [c.get("audio") for c in content if c.get("type") == "audio"]
    return images, audios


def template_message(message: dict) -> dict:
    """The message as the chat template needs it: media items without their payloads."""
    out = dict(message)
    content = message.get("content")
    if isinstance(content, list):
        out["content"] = [{"type": c["type"]} if c.get("type") in ("image", "audio") else dict(c)
                          for c in content]
    return out
