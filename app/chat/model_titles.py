"""Titles the model writes after a conversation's first answer, off the critical path.

After an answer is stored in a conversation that still has its fallback title, `ModelTitles` asks
the engine for a title from the first exchange (`WriteTitle`, which the engine runs only when idle
and stops for anything else: a stopped one is asked again after the next answer, up to
MAX_ATTEMPTS times); when one comes back, the conversation takes it unless the person renamed it
in the meantime. Until then it keeps its readable fallback
(app.store.titles). Nothing is asked of a demo model: its titles would be noise.
"""

from __future__ import annotations

from collections.abc import Callable

from app.store import Message, Store
from app.store.titles import first_message_title
from engine import protocol as ev

MAX_EXCHANGE_CHARS = 1200
MAX_ATTEMPTS = 3


class ModelTitles:
    def __init__(self, store: Store, submit: Callable[[ev.Command], int]) -> None:
        self.store, self.submit = store, submit
        self.enabled = False  # a real model is loaded
        self._asked: dict[int, tuple[str, str]] = {}  # request id -> (conversation, title then)
        self._attempts: dict[str, int] = {}  # conversation -> titles asked for it in this run

    def after_answer(self, conversation_id: str) -> None:
        """Ask for a title when the conversation has a first answer and no title but its fallback."""
        conversation = self.store.conversation(conversation_id)
        if not self.enabled or conversation is None or conversation.kind != "chat":
            return
        if conversation_id in (asked for asked, _ in self._asked.values()):
            return  # one is on its way
        if self._attempts.get(conversation_id, 0) >= MAX_ATTEMPTS:
            return
        messages = self.store.messages(conversation_id)
        if len(messages) < 2 or messages[1].role != "assistant" or not messages[1].content:
            return
        if conversation.title != first_message_title(messages[0].content, messages[0].attachments):
            return  # named already: by the person, or by the model
        rid = self.submit(ev.WriteTitle(conversation_id=conversation_id,
                                        text=exchange_text(messages[0], messages[1])))
        self._asked[rid] = (conversation_id, conversation.title)
        self._attempts[conversation_id] = self._attempts.get(conversation_id, 0) + 1

    def title_written(self, event: ev.TitleWritten) -> bool:
        """Take the title if the conversation still has the one it had when asked; True if so."""
        asked = self._asked.pop(event.request_id, None)
        if asked is None or not event.title:
            return False
        conversation_id, title_then = asked
        conversation = self.store.conversation(conversation_id)
        if conversation is None or conversation.title != title_then:
            return False  # deleted, or renamed by the person: theirs stays
        self.store.rename_conversation(conversation_id, event.title)
        return True

    def forget(self, request_id: int) -> bool:
        """A title request that ended without a title (stopped, failed); True if it was one."""
        return self._asked.pop(request_id, None) is not None


def exchange_text(question: Message, answer: Message) -> str:
    """The first exchange as the title writer sees it."""
    asked = question.content or ", ".join(
        "a voice message" if a.kind == "audio" else "an image" for a in question.attachments)
    text = f"User: {asked}\n\nAssistant: {answer.content}"
    return text if len(text) <= MAX_EXCHANGE_CHARS else text[:MAX_EXCHANGE_CHARS - 1] + "…"
