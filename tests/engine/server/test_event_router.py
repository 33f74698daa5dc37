"""The event fan-out: events reach their request's handler on the server loop; a model load is
seen by every listener; events the server did not ask for are ignored."""

import asyncio
import threading

from engine import protocol as ev
from engine.server.event_router import EventRouter


class Worker:
    alive = True

    def __init__(self):
        self.commands = []

    def submit(self, command):
        self.commands.append(command)
        return command.request_id


def test_events_go_to_their_handler_on_the_loop_thread():
    async def scenario():
        router = EventRouter(Worker())
        router.loop = asyncio.get_running_loop()
        got, loaded = [], []
        router.on_model_loaded.append(lambda: loaded.append(router.model_name))
        command = ev.SendMessage(session_id="api-1", content="hi")
        router.submit(command, lambda e: got.append((e, threading.current_thread())))

        def engine_thread():
            router.on_event(ev.TextDelta(request_id=command.request_id, text="a"))
            router.on_event(ev.TextDelta(request_id=999_999, text="not ours"))
            router.on_event(ev.ModelLoaded(name="new model"))

        t = threading.Thread(target=engine_thread)
        t.start()
        t.join()
        await asyncio.sleep(0.05)
        router.forget(command.request_id)
        router.on_event(ev.TextDelta(request_id=command.request_id, text="late"))
        await asyncio.sleep(0.05)
        return got, loaded

    got, loaded = asyncio.run(scenario())
    assert [e.text for e, _ in got] == ["a"]
    assert got[0][1] is threading.main_thread()
    assert loaded == ["new model"]


def test_events_before_the_server_runs_are_dropped_quietly():
    router = EventRouter(Worker())
    router.on_event(ev.ModelLoaded(name="m"))  # no loop yet: no error
    assert router.model_name == "m" and router.engine_alive
