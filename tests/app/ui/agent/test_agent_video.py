"""A screen recording dropped into the agent's task box goes to the model as a video item."""

from __future__ import annotations

from pathlib import Path

from media_drops import clip, drop_files
from test_agent_view import open_agent, run_task, wait_finished

from app.agent import Reply, ScriptedModel


def test_a_dropped_screen_recording_goes_with_the_task_as_video(qtbot, tmp_path):
    model = ScriptedModel([Reply(text="The button moves after the click.")])
    view, _ = open_agent(qtbot, tmp_path, model)
    drop = drop_files(view.composer, [clip(tmp_path / "recording.mov")])
    assert drop.isAccepted()
    [chip] = view.composer.chips
    assert chip.attachment.kind == "video" and chip.video_label.text() == "1.2 s"
    run_task(qtbot, view, "why does the button jump?")
    wait_finished(qtbot, view)
    kind, task = model.received[0]
    assert kind == "begin"
    assert task[0] == {"type": "video", "video": str(chip.attachment.path)}
    assert Path(task[0]["video"]).exists()
    assert task[1] == {"type": "text", "text": "why does the button jump?"}


def test_a_file_that_is_not_a_video_is_refused_and_the_task_text_stays(qtbot, tmp_path):
    view, _ = open_agent(qtbot, tmp_path, ScriptedModel([]))
    view.composer.edit.setPlainText("look at this")
    bad = tmp_path / "recording.mov"
    bad.write_text("not a recording" * 30)
    drop_files(view.composer, [bad])
    assert view.composer.chips == []
    assert "recording.mov is not a video Tandem can read" in view.composer.error_label.text()
    assert view.composer.text == "look at this"
