"""A live conversation and what it keeps.

Modules: `session` (the Session class), `history` (a whole conversation as pieces to feed), `messages`
(messages as the template takes them), `segments` (what was fed), `marks` (points to come back to),
`persistence` (a session on disk), `voice_buffer` (the open voice turn's samples), `errors`.
"""

from engine.session.errors import Cancelled, ContextTooLong, NotFound, SessionError
from engine.session.session import Session, SessionOptions

__all__ = ["Cancelled", "ContextTooLong", "NotFound", "Session", "SessionError", "SessionOptions"]
