"""The run's limits, its stop signal and the hand-over of approval decisions between threads.

`RunControl` is shared by the run's worker thread and whoever drives it (a GUI): `decide` and
`stop` may be called from any thread, `wait_for` blocks the worker until a decision arrives or the
run is stopped. A decision given before the wait starts (for example from inside the event
callback) is kept and used. `call_stoppable` runs a tool on a helper thread so that a stop ends
the wait at once, even when the tool itself is stuck (the helper is told through its cancel event
and left to end on its own).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.agent.events import Decision, StopReason

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    max_steps: int = 30
    max_wall_s: float = 1800.0  # checked between steps; waiting for the person does not count
    context_budget: int = 24_000  # tokens, as counted by the run's token counter
    repeat_limit: int = 3  # identical calls that stop the run (see app.agent.guards)
    max_format_hints: int = 3  # malformed steps in a row that get a hint

    def __post_init__(self) -> None:
        for name in ("max_steps", "context_budget", "max_format_hints"):
            if getattr(self, name) < (0 if name == "max_format_hints" else 1):
                raise ValueError(f"Limits.{name} is too small: {getattr(self, name)}")
        if self.max_wall_s <= 0:
            raise ValueError(f"Limits.max_wall_s must be positive, got {self.max_wall_s}")
        if self.repeat_limit < 2:
            raise ValueError(f"Limits.repeat_limit must be at least 2, got {self.repeat_limit}")

    def check(self, steps_done: int, elapsed_s: float) -> None:
        """Raise RunStopped when the step or wall-time limit is reached."""
        if steps_done >= self.max_steps:
            raise RunStopped(
                StopReason.STEP_LIMIT, f"Stopped at the step limit ({self.max_steps} steps)."
            )
        if elapsed_s >= self.max_wall_s:
            raise RunStopped(
                StopReason.TIME_LIMIT,
                f"Stopped at the time limit ({self.max_wall_s:.0f} s; {elapsed_s:.0f} s used).",
            )


class RunStopped(Exception):
    """Ends a run early; `message` is what the person is told."""

    def __init__(self, reason: StopReason, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class RunControl:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._decisions: dict[int, Decision] = {}
        self.stopped = False

    def decide(self, call_id: int, decision: Decision) -> None:
        with self._cond:
            self._decisions[call_id] = decision
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self.stopped = True
            self._cond.notify_all()

    def check(self) -> None:
        """Raise RunStopped if the person stopped the run."""
        if self.stopped:
            raise RunStopped(StopReason.STOPPED, "Stopped by the user.")

    def wait_for(self, call_id: int) -> Decision:
        """Block until `call_id` is decided; raises RunStopped when the run is stopped first."""
        with self._cond:
            while call_id not in self._decisions and not self.stopped:
                self._cond.wait()
            if call_id not in self._decisions:
                raise RunStopped(StopReason.STOPPED, "Stopped by the user.")
            return self._decisions.pop(call_id)

    def call_stoppable(self, fn: Callable[[threading.Event], T]) -> T:
        """`fn(cancel)` on a helper thread: its result, or RunStopped as soon as the run stops."""
        self.check()
        cancel = threading.Event()
        box: dict[str, object] = {}

        def body() -> None:
            try:
                box["value"] = fn(cancel)
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc
            finally:
                with self._cond:
                    box["done"] = True
                    self._cond.notify_all()

        threading.Thread(target=body, name="agent-tool", daemon=True).start()
        with self._cond:
            while "done" not in box and not self.stopped:
                self._cond.wait()
        if "done" not in box:
            cancel.set()
            raise RunStopped(StopReason.STOPPED, "Stopped by the user.")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]
