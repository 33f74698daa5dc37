"""Work across threads: off the GUI thread and back, failures, order, and owners that are gone."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QApplication

from app.ui.tasks import Tasks, main_thread_relay


def gui_thread() -> QThread:
    return QApplication.instance().thread()


def test_work_runs_off_the_gui_thread_and_its_result_comes_back_on_it(qtbot):
    owner = QObject()
    tasks = Tasks(owner)
    where: dict[str, object] = {}

    def work() -> int:
        where["work"] = QThread.currentThread() == gui_thread()
        return 42

    def done(result: int) -> None:
        where["done"] = (result, QThread.currentThread() == gui_thread())

    thread = tasks.run_in_background(work, on_done=done, name="test-work")
    assert thread.daemon and thread.name == "test-work"
    qtbot.waitUntil(lambda: "done" in where, timeout=3000)
    assert where == {"work": False, "done": (42, True)}


def test_a_failure_reaches_on_failure_on_the_gui_thread(qtbot):
    tasks = Tasks(QObject())
    failures: list = []

    def work() -> None:
        raise OSError("disk full")

    tasks.run_in_background(work, on_done=lambda _: failures.append("done?"),
                            on_failure=lambda exc: failures.append(
                                (str(exc), QThread.currentThread() == gui_thread())))
    qtbot.waitUntil(lambda: bool(failures), timeout=3000)
    assert failures == [("disk full", True)]


def test_closures_from_another_thread_run_on_the_gui_thread_in_order(qtbot):
    tasks = Tasks(QObject())
    seen: list = []

    def post() -> None:
        for i in range(200):
            tasks.run_on_main(lambda i=i: seen.append((i, QThread.currentThread() == gui_thread())))

    poster = threading.Thread(target=post)
    poster.start()
    poster.join()
    assert seen == []  # queued, never run on the posting thread
    qtbot.waitUntil(lambda: len(seen) == 200, timeout=3000)
    assert seen == [(i, True) for i in range(200)]


def test_nothing_runs_for_an_owner_that_was_deleted(qtbot):
    owner = QObject()
    tasks = Tasks(owner)
    release = threading.Event()
    calls: list = []
    thread = tasks.run_in_background(lambda: release.wait(5), on_done=calls.append)
    shiboken6.delete(owner)  # the window closed while the work ran
    release.set()
    thread.join(5)
    control = Tasks(QObject())
    control.run_on_main(lambda: calls.append("control"))  # queued after the dropped one
    qtbot.waitUntil(lambda: bool(calls), timeout=3000)
    assert calls == ["control"]


def test_every_owner_shares_the_applications_one_relay():
    assert main_thread_relay() is main_thread_relay()
    assert main_thread_relay().parent() is QApplication.instance()
