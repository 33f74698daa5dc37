"""A stand-in for the engine worker that answers with scripted events, for what random weights never
do on their own (call a tool). It records every command and answers on its own thread, as the
engine does."""

import queue
import threading
import time
from dataclasses import replace

from engine import protocol as ev


class ScriptedWorker:
    """`replies[type(command).__name__]` is a list of events to send for that command kind; a number
    in the list is a pause of that many seconds (a slow prefill)."""

    def __init__(self, on_event, replies: dict[str, list[ev.Event]]):
        self.on_event = on_event
        self.replies = replies
        self.commands: list[ev.Command] = []
        self.sent: list[tuple[float, ev.Event]] = []  # (time.monotonic(), event) as sent
        self.sessions: dict = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, command):
        self.commands.append(command)
        self._queue.put(command)
        return command.request_id

    def stop(self):
        self._queue.put(None)
        self._thread.join(5)

    def _run(self):
        while (command := self._queue.get()) is not None:
            for template in self.replies.get(type(command).__name__, []):
                if isinstance(template, (int, float)):
                    time.sleep(template)
                    continue
                session_id = command.session_id if isinstance(command, ev.SessionCommand) else ""
                event = replace(template, request_id=command.request_id, session_id=session_id)
                self.sent.append((time.monotonic(), event))
                self.on_event(event)
