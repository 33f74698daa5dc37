"""A live conversation and what it keeps: the Session class, history loading, marks, cache files."""

from engine.session.session import Cancelled, Session, SessionError, SessionOptions

__all__ = ["Cancelled", "Session", "SessionError", "SessionOptions"]
