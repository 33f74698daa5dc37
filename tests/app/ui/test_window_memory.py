"""The window and the engine's memory budget: evictions and reloads in the status line, a refused request's
sentence, the macOS GPU limit note once."""

from __future__ import annotations

from engine import protocol as ev

NOTE = ("macOS lets the GPU use about 11 GB of this Mac's 16 GB (the default); long conversations beyond that "
        "slow down or fail. To let it use more until the next restart, run in Terminal: "
        "sudo sysctl iogpu.wired_limit_mb=13107")


def test_an_eviction_and_a_reload_are_said_in_the_status_line_then_go(qtbot, open_window):
    window, engine = open_window()
    qtbot.waitUntil(lambda: window.status_line.model_label.text() == "fake", timeout=3000)
    notice = window.status_line.memory_notice
    engine.emit(ev.SessionEvicted(session_id="other", bytes_freed=3 * 2**29, path="/tmp/x.safetensors"))
    qtbot.waitUntil(lambda: notice.text() != "", timeout=3000)
    assert notice.text() == "An idle conversation was moved to disk to free memory (1.5 GB)."
    assert notice.isVisibleTo(window)
    engine.emit(ev.SessionReloaded(session_id="this", seconds=0.42))
    qtbot.waitUntil(lambda: "back from disk" in notice.text(), timeout=3000)
    assert notice.text() == "Loaded this conversation back from disk in 0.4 s."
    window.status_line.show_memory_event(ev.SessionReloaded(seconds=1.0), seconds=0.05)
    qtbot.waitUntil(lambda: notice.text() == "", timeout=3000)  # a notice, not a lasting label
    window.status_line.show_memory_event(ev.TurnStats())  # other events leave it alone
    assert notice.text() == ""


def test_a_request_that_would_not_fit_in_memory_says_why_and_what_to_do(qtbot, open_window):
    refusal = ("this message is too big for the memory left: it needs about 2.1 GB more and only 0.4 GB is "
               "free for the model. Send a shorter message, or close other apps")
    window, engine = open_window(refuse=refusal)
    qtbot.waitUntil(lambda: window.status_line.model_label.text() == "fake", timeout=3000)
    window.controller.send("a very long paste")
    answer = window.chat_view.last()
    qtbot.waitUntil(lambda: answer.error_label.isVisibleTo(window), timeout=3000)
    text = answer.error_label.text()
    assert text.startswith("This message is too big for the memory left") and "Send a shorter message" in text
    assert "ErrorEvent" not in text and "too_long" not in text


def test_the_gpu_memory_note_is_shown_once_per_window(qtbot, open_window):
    window, engine = open_window(memory_note=NOTE)
    qtbot.waitUntil(lambda: window.banner.isVisibleTo(window), timeout=3000)
    assert window.banner.title_label.text() == "The GPU can use only part of this Mac's memory"
    assert "sudo sysctl iogpu.wired_limit_mb=13107" in window.banner.text_label.text()
    window.banner.button("OK").click()
    assert not window.banner.isVisibleTo(window)
    window._submit_load("models/other")  # another model loaded: the note is not said again
    qtbot.waitUntil(lambda: window.status_line.model_label.text() == "other", timeout=3000)
    assert not window.banner.isVisibleTo(window)


def test_no_note_no_banner(qtbot, open_window):
    window, _ = open_window(memory_note="")
    qtbot.waitUntil(lambda: window.status_line.model_label.text() == "fake", timeout=3000)
    assert not window.banner.isVisibleTo(window)
