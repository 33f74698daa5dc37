"""Why a session refuses a request, as exceptions that carry the kind of failure (`engine.protocol.ErrorEvent`)."""

from __future__ import annotations


class SessionError(Exception):
    """A request the session cannot carry out; the message says why, and nothing changed."""

    kind = "bad_request"


class NotFound(SessionError):
    """What the request names does not exist (a conversation, a saved cache)."""

    kind = "not_found"


class ContextTooLong(SessionError):
    """The conversation with this request does not fit in the model's context."""

    kind = "too_long"


class Cancelled(Exception):
    """The running prefill was cancelled; the command's changes were taken back."""
