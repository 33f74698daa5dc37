"""The session pool: how a request is served from the kept conversations, and what is evicted."""

import pytest

from engine.server.items import AssistantTurn, RequestError, SessionKey, ToolResultsTurn, UserTurn
from engine.server.pool import SessionPool


def user(text):
    return UserTurn((("text", text),), lambda: text)


def answer(text):
    return AssistantTurn(text)


def fill(pool, key, turns, context_used, offsets):
    plan = pool.plan(key, turns[:1])
    e = plan.entry
    e.turns, e.context_used, e.user_offsets, e.opened = list(turns), context_used, offsets, True
    pool.checkin(e)
    return e


def test_pool_extends_rolls_back_or_refuses():
    closed = []
    pool = SessionPool(close=closed.append)
    key = SessionKey("sys")
    convo = [user("a"), answer("A"), user("b"), answer("B")]
    entry = fill(pool, key, convo, 40, [0, 20])

    plan = pool.plan(key, convo + [user("c")])
    assert (plan.kind, plan.entry, plan.start_offset) == ("extend", entry, 40)
    # Busy: the same conversation cannot be served twice at once, nor does it fall back silently.
    with pytest.raises(RequestError, match="being answered for another request") as e:
        pool.plan(key, convo + [user("c")])
    assert e.value.status == 409
    pool.checkin(entry)

    plan = pool.plan(key, convo[:2] + [user("b2")])
    assert (plan.kind, plan.rollback_to, plan.start_offset) == ("rollback", 1, 20)
    pool.checkin(entry)

    assert pool.plan(SessionKey("other"), [user("a")]).kind == "fresh"
    assert pool.plan(key, [user("x"), answer("y"), user("z")]).kind == "history"
    # Tool results extend only a conversation that waits for them.
    with pytest.raises(RequestError):
        pool.plan(key, convo + [ToolResultsTurn((("f", '"1"'),))])


def test_pool_closes_the_least_recently_used_past_its_limits():
    closed = []
    sizes = {}
    pool = SessionPool(
        close=closed.append, measure=lambda sid: sizes.get(sid, 0), max_sessions=2, max_bytes=100
    )
    key = SessionKey()
    a = fill(pool, key, [user("a"), answer("A")], 10, [0])
    b = fill(pool, key, [user("b"), answer("B")], 10, [0])
    pool.plan(key, [user("a"), answer("A"), user("more")])  # a is now the most recent
    pool.checkin(a)
    fill(pool, key, [user("c"), answer("C")], 10, [0])
    assert closed == [b.session_id]
    sizes[a.session_id] = 150  # over the byte budget on its own
    pool.plan(key, [user("a"), answer("A"), user("x")])
    pool.checkin(a)
    assert a.session_id in closed and a.session_id not in pool.entries
