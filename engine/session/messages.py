"""Chat messages as the session takes them, and as the chat template takes them.

A message's content is a string or a list of items (`{"type": "text", "text": ...}`,
`{"type": "image", "image": ...}`, `{"type": "audio", "audio": ...}`, `{"type": "video", "video": ...}`).
The template renders only a placeholder per media item; the payloads go to the prompt encoder separately.
"""

from __future__ import annotations

# The prompt encoder's media arguments and the item type each one takes.
MEDIA_ARGUMENTS = {"images": "image", "audios": "audio", "videos": "video"}


def media_of(content) -> dict[str, list]:
    """The payloads of a message's content by kind, in order: `encode_prompt`'s media arguments."""
    if isinstance(content, str):
        return {name: [] for name in MEDIA_ARGUMENTS}
    return {name: [c.get(kind) for c in content if c.get("type") == kind]
            for name, kind in MEDIA_ARGUMENTS.items()}


def template_message(message: dict) -> dict:
    """The message as the chat template needs it: media items without their payloads."""
    out = dict(message)
    content = message.get("content")
    if isinstance(content, list):
        out["content"] = [{"type": c["type"]} if c.get("type") in MEDIA_ARGUMENTS.values() else dict(c)
                          for c in content]
    return out
