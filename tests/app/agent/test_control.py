import threading
import time

import pytest

from app.agent.control import Limits, RunControl, RunStopped
from app.agent.events import Decision, StopReason


def test_limits_check():
    limits = Limits(max_steps=3, max_wall_s=10)
    limits.check(2, 9.9)
    with pytest.raises(RunStopped) as step:
        limits.check(3, 0)
    assert step.value.reason is StopReason.STEP_LIMIT and "3 steps" in step.value.message
    with pytest.raises(RunStopped) as wall:
        limits.check(1, 10)
    assert wall.value.reason is StopReason.TIME_LIMIT


@pytest.mark.parametrize(
    "kwargs", [{"max_steps": 0}, {"max_wall_s": 0}, {"context_budget": 0}, {"repeat_limit": 1}]
)
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(ValueError, match="Limits"):
        Limits(**kwargs)


def test_a_decision_given_early_is_kept():
    control = RunControl()
    control.decide(7, Decision.deny("no"))
    assert control.wait_for(7) == Decision.deny("no")
    threading.Timer(0.2, control.decide, args=(8, Decision.allow_once())).start()
    assert control.wait_for(8) == Decision.allow_once()


def test_stop_ends_a_wait():
    control = RunControl()
    threading.Timer(0.1, control.stop).start()
    start = time.monotonic()
    with pytest.raises(RunStopped) as stopped:
        control.wait_for(1)
    assert stopped.value.reason is StopReason.STOPPED and time.monotonic() - start < 5
