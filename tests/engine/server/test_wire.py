"""Server plumbing: keep-alives while a stream waits, and the end of a client that went away."""

import asyncio

from engine.server.wire import KEEPALIVE, note_headers, progress_comment, sse_event, watched


class Client:
    def __init__(self):
        self.gone = False

    async def is_disconnected(self):
        return self.gone


async def slow_outputs(log):
    try:
        await asyncio.sleep(0.5)
        yield "token"
        await asyncio.sleep(10)
        yield "never"
    finally:
        log.append("closed")


def test_keepalives_while_waiting_then_the_item():
    async def main():
        got = []
        async for item in watched(slow_outputs([]), Client(), keepalive_s=0.1):
            got.append(item)
            if item == "token":
                break
        return got

    got = asyncio.run(main())
    assert got[-1] == "token" and got.count(KEEPALIVE) >= 2
    assert set(got[:-1]) == {KEEPALIVE}


def test_a_client_that_goes_away_closes_the_outputs():
    async def main():
        log, client = [], Client()
        async for item in watched(slow_outputs(log), client, keepalive_s=0.1):
            if item == "token":
                client.gone = True
        return log

    assert asyncio.run(main()) == ["closed"]


def test_framing():
    assert sse_event("ping", {"type": "ping"}) == 'event: ping\ndata: {"type": "ping"}\n\n'
    assert progress_comment(3, 9) == ": prefill 3/9\n\n"
    assert note_headers([]) == {} and note_headers(["a", "b"]) == {"X-Tandem-Note": "a; b"}
