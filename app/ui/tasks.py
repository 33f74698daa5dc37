"""Work that crosses threads, one way (in the manner of Anki's aqt/taskman.py).

    tasks = Tasks(owner)        # on the GUI thread; `owner` is the QObject the work is done for
    tasks.run_in_background(work, on_done=show, on_failure=explain, name="model-download")
    tasks.run_on_main(closure)  # from any thread

`run_in_background` runs `work()` on a new daemon thread and returns that thread; the result goes
to `on_done(result)`, an exception to `on_failure(exc)`, both on the GUI thread. `run_on_main`
runs `closure()` on the GUI thread, in the order of the calls. Nothing on another thread touches a
Qt object itself: every crossing is one queued signal of a relay that belongs to the QApplication
(so it outlives every window). A closure whose owner was deleted in the meantime (a window closed
while a download ran) is dropped, never run against a deleted object. Do no GUI work in `work`.

Each piece of work gets its own thread, not a pool: some take minutes (an agent run, a download),
and a quitting app must not wait for them (daemon threads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

Closure = Callable[[], None]
Result = TypeVar("Result")
RELAY_NAME = "tandem-main-thread-relay"


class MainThreadRelay(QObject):
    """Runs posted closures on the GUI thread. One per QApplication: use `main_thread_relay()`."""

    posted = Signal(object, object)  # owner, closure: emitted on any thread, delivered queued

    def __init__(self, app: QCoreApplication) -> None:
        super().__init__(app)
        self.setObjectName(RELAY_NAME)
        self.posted.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object, object)
    def _run(self, owner: QObject, closure: Closure) -> None:
        if shiboken6.isValid(owner):
            closure()


def main_thread_relay() -> MainThreadRelay:
    """The application's relay, made on first use (which must be on the GUI thread)."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("Work across threads needs a QApplication; create it first.")
    relay = app.findChild(MainThreadRelay, RELAY_NAME, Qt.FindChildOption.FindDirectChildrenOnly)
    if relay is None:
        if QThread.currentThread() != app.thread():
            raise RuntimeError("Make the first Tasks on the GUI thread.")
        relay = MainThreadRelay(app)
    return relay


class Tasks:
    """Runs work off the GUI thread for `owner` and brings results back to the GUI thread."""

    def __init__(self, owner: QObject) -> None:
        self.owner = owner
        self._relay = main_thread_relay()

    def run_on_main(self, closure: Closure) -> None:
        """Run `closure()` on the GUI thread soon (at once is never: it is queued). Any thread."""
        self._relay.posted.emit(self.owner, closure)

    def run_in_background(
        self,
        work: Callable[[], Result],
        on_done: Callable[[Result], Any] | None = None,
        on_failure: Callable[[Exception], Any] | None = None,
        name: str = "tandem-task",
    ) -> threading.Thread:
        """Start `work()` on a new daemon thread; `on_done`/`on_failure` run on the GUI thread.

        Without `on_failure` an exception is left to the thread (Python prints it): pass one
        whenever the person must hear about a failure.
        """

        def body() -> None:
            try:
                result = work()
            except Exception as exc:
                if on_failure is None:
                    raise
                self.run_on_main(partial(on_failure, exc))  # `exc` is unbound after this block
                return
            if on_done is not None:
                self.run_on_main(partial(on_done, result))

        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread
