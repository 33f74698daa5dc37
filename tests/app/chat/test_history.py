"""Stored messages as engine content: one user message, a conversation replayed to a new session."""

from __future__ import annotations

from pathlib import Path

from app.chat import message_content, messages_to_replay
from app.store import Attachment, Message


def msg(position: int, role: str, content: str, attachments=()) -> Message:
    return Message(
        id=position,
        conversation_id="c",
        position=position,
        role=role,
        content=content,
        attachments=tuple(attachments),
    )


PHOTO = Attachment(
    kind="image",
    sha256="ab",
    suffix=".png",
    filename="photo.png",
    path=Path("/data/attachments/ab/ab.png"),
)


def test_a_message_is_its_text_or_its_media_then_its_text():
    assert message_content("hi") == "hi"
    assert message_content("", [PHOTO]) == [
        {"type": "image", "image": "/data/attachments/ab/ab.png"}
    ]
    assert message_content("what?", [PHOTO]) == [
        {"type": "image", "image": "/data/attachments/ab/ab.png"},
        {"type": "text", "text": "what?"},
    ]


def test_replay_keeps_answered_turns_in_order_with_media_by_path():
    messages = [
        msg(0, "user", "look", [PHOTO]),
        msg(1, "assistant", "A photo."),
        msg(2, "user", "and?"),
        msg(3, "assistant", "Blue."),
    ]
    assert messages_to_replay(messages) == [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": str(PHOTO.path)},
                {"type": "text", "text": "look"},
            ],
        },
        {"role": "assistant", "content": "A photo."},
        {"role": "user", "content": "and?"},
        {"role": "assistant", "content": "Blue."},
    ]


def test_replay_drops_the_unanswered_end_and_answers_without_a_question():
    messages = [
        msg(0, "assistant", "orphan"),
        msg(1, "user", "q"),
        msg(2, "assistant", "a"),
        msg(3, "user", "sent again by the person"),
    ]
    assert messages_to_replay(messages) == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert messages_to_replay([msg(0, "user", "only")]) == []
