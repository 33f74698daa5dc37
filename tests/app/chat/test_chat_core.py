"""The chat core without Qt: a fake engine records the commands, a listener what it is told."""

from __future__ import annotations

from pathlib import Path

import pytest
from chat_fakes import answer, make_chat

from app.chat import ModelState, TurnRefused
from app.store import Store, VariantPlace
from engine import protocol as ev


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def test_a_message_is_stored_before_it_is_shown_and_the_answer_asked_for_last(store):
    chat, engine, listener = make_chat(store)
    assert chat.send("hello")
    conv = chat.current_id
    assert listener.stored_when_told == [["hello"]]
    assert engine.kinds()[1:] == ["OpenSession", "SendMessage"]
    [opened] = engine.of_type(ev.OpenSession)
    assert opened.session_id == conv and opened.system_prompt == "Be brief."
    assert opened.image_budget == 280
    [send] = engine.of_type(ev.SendMessage)
    assert send.content == "hello" and send.settings.max_tokens == 64
    names = [c[0] for c in listener.calls]
    assert names.index("user_message_added") < names.index("answer_started")
    assert ("conversation_created", conv) in listener.calls
    assert chat.answering and chat.pending[conv].request_id == send.request_id


def test_the_answer_streams_and_is_stored_when_it_finishes(store):
    chat, engine, listener = make_chat(store)
    chat.send("what files?")
    conv, rid = chat.current_id, engine.commands[-1].request_id
    chat.handle(ev.TextDelta(session_id=conv, request_id=rid, text="Hm.", channel="thinking"))
    chat.handle(ev.TextDelta(session_id=conv, request_id=rid, text="Let me"))
    chat.handle(
        ev.TextDelta(session_id=conv, request_id=rid + 1000, text=" STALE")
    )  # another request
    chat.handle(ev.TextDelta(session_id=conv, request_id=rid, text=" look."))
    chat.handle(
        ev.ToolCallEvent(
            session_id=conv, request_id=rid, name="list_files", arguments={"path": "."}
        )
    )
    chat.handle(
        ev.TurnStats(
            session_id=conv, request_id=rid, generated_tokens=3, decode_tokens_per_second=9.5
        )
    )
    chat.handle(
        ev.TurnFinished(session_id=conv, request_id=rid, reason="stop", text="Let me look.")
    )

    user, reply = store.messages(conv)
    assert (reply.role, reply.content, reply.thinking) == ("assistant", "Let me look.", "Hm.")
    assert reply.tool_calls == ({"name": "list_files", "arguments": {"path": "."}},)
    assert reply.finish_reason == "stop" and reply.stats["generated_tokens"] == 3
    [save] = engine.of_type(ev.SaveSession)
    assert save.session_id == conv and save.path == str(store.session_cache_path(conv))
    assert listener.named("answer_streamed") == [
        (conv, "Hm.", "thinking"),
        (conv, "Let me", "answer"),
        (conv, " look.", "answer"),
    ]
    assert listener.named("tool_call_received") == [(conv, "list_files", {"path": "."})]
    [(finished_conv, finished, reason)] = listener.named("answer_finished")
    assert (finished_conv, finished.text, reason) == (conv, "Let me look.", "stop")
    assert not chat.answering


def test_no_model_refuses_the_turn_before_anything_changes(store):
    chat, engine, listener = make_chat(store, loaded=False)
    with pytest.raises(TurnRefused, match="not ready yet"):
        chat.send("too early")
    assert engine.commands == [] and listener.calls == [] and store.conversations() == []
    assert chat.current_id is None
    chat.load_model(ev.LoadModel(path="missing"))
    chat.handle(
        ev.ErrorEvent(request_id=engine.commands[-1].request_id, message="no model at missing")
    )
    assert chat.model_state is ModelState.FAILED
    assert listener.named("model_failed") == [("no model at missing",)]
    with pytest.raises(TurnRefused, match="could not be loaded"):
        chat.send("now?")
    with pytest.raises(TurnRefused, match="could not be loaded"):
        chat.start_voice_turn()
    assert store.conversations() == []


def test_one_answer_at_a_time_per_conversation(store):
    chat, engine, _ = make_chat(store)
    chat.send("first")
    assert not chat.send("second")
    assert len(engine.of_type(ev.SendMessage)) == 1
    assert [m.content for m in store.messages(chat.current_id)] == ["first"]
    assert chat.user_message(0) is None  # no editing while the answer is written
    assert not chat.regenerate(1)


def test_a_stopped_answer_keeps_its_partial_text(store):
    chat, engine, _ = make_chat(store)
    chat.send("go")
    conv, rid = chat.current_id, engine.commands[-1].request_id
    chat.handle(ev.TextDelta(session_id=conv, request_id=rid, text="half an"))
    chat.stop()
    [cancel] = engine.of_type(ev.Cancel)
    assert cancel.session_id == conv
    chat.handle(
        ev.TurnFinished(session_id=conv, request_id=rid, reason="cancelled", text="half an")
    )
    saved = store.messages(conv)[-1]
    assert (saved.content, saved.finish_reason) == ("half an", "cancelled")


def test_closing_stores_every_partial_answer_at_once(store):
    chat, engine, _ = make_chat(store)
    chat.send("one")
    first, first_rid = chat.current_id, engine.commands[-1].request_id
    chat.handle(ev.TextDelta(session_id=first, request_id=first_rid, text="partial"))
    chat.new_conversation()
    chat.send("two")
    second = chat.current_id
    chat.stop_all()
    assert {c.session_id for c in engine.of_type(ev.Cancel)} == {first, second}
    assert [(m.content, m.finish_reason) for m in store.messages(first)][-1] == (
        "partial",
        "cancelled",
    )
    # The second message was not accepted yet: nothing arrived, and its session is fed again next time.
    assert store.messages(second)[-1].role == "user" and chat.pending == {}
    assert second not in chat.opened and first in chat.opened


def test_a_failed_answer_is_said_and_not_stored(store):
    chat, engine, listener = make_chat(store)
    chat.send("hi")
    conv, rid = chat.current_id, engine.commands[-1].request_id
    chat.handle(
        ev.ErrorEvent(
            session_id=conv, request_id=rid, message="Too long",
            detail='Traceback (most recent call last):\n  File "engine/worker.py"',
        )
    )
    assert listener.named("answer_failed") == [(conv, "Too long.")]  # the detail is a traceback
    assert [m.role for m in store.messages(conv)] == ["user"] and not chat.answering


def test_an_error_of_nothing_shown_goes_to_engine_failed(store):
    chat, _, listener = make_chat(store)
    chat.handle(ev.ErrorEvent(session_id="gone", request_id=999, message="Odd", detail="thing"))
    assert listener.named("engine_failed") == [("Odd.",)]


@pytest.mark.parametrize(("position", "turn"), [(0, 0), (2, 1)])
def test_editing_a_message_rolls_back_to_its_turn(store, position, turn):
    chat, engine, listener = make_chat(store)
    for text in ("q1", "q2"):
        chat.send(text)
        answer(chat, engine, "a for " + text)
    conv = chat.current_id
    assert chat.user_message(position).content == ("q1", "q2")[turn]
    assert chat.user_message(1) is None  # an answer is not edited
    assert chat.send("edited", edit_position=position)
    [rollback] = engine.of_type(ev.Rollback)
    assert (rollback.session_id, rollback.turn) == (conv, turn)
    assert engine.commands.index(rollback) < engine.commands.index(
        engine.of_type(ev.SendMessage)[-1]
    )
    assert [m.content for m in store.messages(conv)] == ["q1", "a for q1"][:position] + ["edited"]
    assert listener.named("messages_removed") == [(conv, position)]


def test_regenerate_replaces_the_answer_once_the_engine_accepts_and_stores_it_when_it_finishes(store):
    chat, engine, listener = make_chat(store)
    chat.send("question")
    answer(chat, engine, "first answer")
    conv = chat.current_id
    started = len(listener.named("answer_started"))
    assert chat.regenerate(1)
    [regen] = engine.of_type(ev.Regenerate)
    assert regen.session_id == conv
    # Asked, not accepted yet: the old answer is still stored and shown.
    assert [m.content for m in store.messages(conv)] == ["question", "first answer"]
    assert listener.named("messages_removed") == [] and len(listener.named("answer_started")) == started
    chat.handle(ev.Accepted(session_id=conv, request_id=regen.request_id))
    assert listener.named("messages_removed") == [(conv, 1)]
    assert len(listener.named("answer_started")) == started + 1
    assert [m.content for m in store.messages(conv)] == ["question", "first answer"]  # until it finishes
    answer(chat, engine, "second answer")
    assert [m.content for m in store.messages(conv)] == ["question", "second answer"]


@pytest.mark.parametrize("outcome", ["refused", "stopped", "failed-after-accepting"])
def test_a_regenerate_that_does_not_finish_keeps_the_stored_answer(store, outcome):
    """The engine takes a refused, stopped-before-accepted or failed Regenerate back: so does the store."""
    chat, engine, listener = make_chat(store)
    chat.send("question")
    answer(chat, engine, "first answer")
    conv = chat.current_id
    chat.regenerate(1)
    rid = engine.of_type(ev.Regenerate)[0].request_id
    if outcome == "refused":
        chat.handle(ev.ErrorEvent(session_id=conv, request_id=rid, kind="bad_request",
                                  message="there is no answer to regenerate"))
        assert any("no answer to regenerate" in m for (m,) in listener.named("engine_failed"))
    elif outcome == "stopped":
        chat.stop()
        chat.handle(ev.TurnFinished(session_id=conv, request_id=rid, reason="cancelled"))
    else:
        chat.handle(ev.Accepted(session_id=conv, request_id=rid))
        chat.handle(ev.TextDelta(session_id=conv, request_id=rid, text="half"))
        chat.handle(ev.ErrorEvent(session_id=conv, request_id=rid, message="the device went away"))
        assert listener.named("answer_failed")
    assert [m.content for m in store.messages(conv)] == ["question", "first answer"]
    assert chat.pending == {} and conv in chat.opened  # the engine still has the old answer too
    assert chat.regenerate(1)  # and it can be asked again


def test_a_message_the_engine_took_back_is_kept_and_fed_again_next_time(store):
    """Stopped before the engine accepted it (or failed): the message stays stored, no answer is, and
    the next turn opens the conversation again from the store (its saved cache is out of date)."""
    chat, engine, listener = make_chat(store)
    chat.send("first")
    answer(chat, engine, "one")
    conv = chat.current_id
    cache = store.session_cache_path(conv)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"saved after the first answer")
    chat.send("second")
    rid = engine.of_type(ev.SendMessage)[-1].request_id
    chat.stop()
    chat.handle(ev.TurnFinished(session_id=conv, request_id=rid, reason="cancelled"))
    assert [m.content for m in store.messages(conv)] == ["first", "one", "second"]
    assert not cache.exists() and conv not in chat.opened
    chat.send("third")
    assert engine.kinds()[-3:] == ["OpenSession", "LoadHistory", "SendMessage"]
    history = engine.of_type(ev.LoadHistory)[-1].messages
    assert [m["content"] for m in history] == ["first", "one"]  # an unanswered message is not replayed


def answered_with_a_saved_cache(store) -> str:
    """A conversation with one answered turn and a (stand-in) saved engine cache; its id."""
    chat, engine, _ = make_chat(store)
    chat.send("Capital of France?")
    answer(chat, engine, "Paris.")
    conv = chat.current_id
    store.session_cache_path(conv).parent.mkdir(parents=True, exist_ok=True)
    store.session_cache_path(conv).write_bytes(b"cache")
    return conv


def test_a_saved_cache_is_restored_with_the_stored_turns_as_fallback(store):
    conv = answered_with_a_saved_cache(store)
    again, engine2, _ = make_chat(store)  # the app restarted
    again.open_conversation(conv)
    again.send("And Germany?")
    [load] = engine2.of_type(ev.LoadSession)
    assert [m["content"] for m in load.fallback] == ["Capital of France?", "Paris."]


def test_a_cancelled_history_load_opens_the_session_again_next_time(store):
    chat, engine, _ = make_chat(store)
    chat.send("one")
    answer(chat, engine, "1")
    conv = chat.current_id
    again, engine2, _ = make_chat(store)
    again.open_conversation(conv)
    again.send("two")
    [load] = engine2.of_type(ev.LoadHistory)
    send = engine2.of_type(ev.SendMessage)[-1]
    again.stop()
    again.handle(ev.TurnFinished(session_id=conv, request_id=load.request_id, reason="cancelled"))
    again.handle(ev.TurnFinished(session_id=conv, request_id=send.request_id, reason="cancelled"))
    assert conv not in again.opened
    again.send("three")
    assert engine2.kinds()[-3:] == ["OpenSession", "LoadHistory", "SendMessage"]


def test_a_reopened_conversation_restores_its_saved_cache(store):
    conv = answered_with_a_saved_cache(store)
    again, engine2, _ = make_chat(store)  # the app restarted
    assert [m.content for m in again.open_conversation(conv)] == ["Capital of France?", "Paris."]
    again.send("And Germany?")
    assert engine2.kinds()[1:] == ["OpenSession", "LoadSession", "SendMessage"]
    assert engine2.of_type(ev.LoadSession)[0].path == str(store.session_cache_path(conv))


def test_without_a_saved_cache_the_stored_turns_are_replayed(store):
    chat, engine, _ = make_chat(store)
    chat.send("Capital of France?")
    answer(chat, engine, "Paris.")
    chat.send("unanswered")  # the app closed before an answer came
    conv = chat.current_id

    again, engine2, _ = make_chat(store)
    again.open_conversation(conv)
    again.send("And Germany?")
    assert engine2.kinds()[1:] == ["OpenSession", "LoadHistory", "SendMessage"]
    assert engine2.of_type(ev.LoadHistory)[0].messages == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ]


def test_sessions_are_opened_again_after_a_new_model_or_a_failed_open(store):
    chat, engine, _ = make_chat(store)
    chat.send("one")
    answer(chat, engine, "ok")
    [opened] = engine.of_type(ev.OpenSession)
    chat.handle(
        ev.ErrorEvent(
            session_id=chat.current_id,
            request_id=opened.request_id,
            message="no model is loaded yet",
        )
    )
    chat.send("two")
    answer(chat, engine, "ok")
    assert len(engine.of_type(ev.OpenSession)) == 2
    chat.load_model(ev.LoadModel(path="models/other"))
    chat.handle(ev.ModelLoaded(request_id=engine.commands[-1].request_id, name="other"))
    chat.send("three")
    assert len(engine.of_type(ev.OpenSession)) == 3  # a replaced model starts with no sessions


def test_an_attachment_is_prepared_while_the_person_writes(store, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG fake")
    chat, engine, listener = make_chat(store)
    attachment = store.import_file(photo)
    chat.prepare_attachment(attachment)
    [prepare] = engine.of_type(ev.PrepareMedia)
    assert prepare.item == {"type": "image", "image": str(attachment.path)}
    assert prepare.session_id == chat.current_id  # the conversation exists from now on
    chat.handle(
        ev.Progress(session_id=chat.current_id, request_id=prepare.request_id, done=1, total=1)
    )
    assert listener.named("attachment_ready") == [(attachment,)]
    chat.prepare_attachment(attachment)
    failing = engine.of_type(ev.PrepareMedia)[-1]
    chat.handle(
        ev.ErrorEvent(
            session_id=chat.current_id,
            request_id=failing.request_id,
            message="Cannot read image",
            detail="truncated",
        )
    )
    assert listener.named("attachment_failed") == [
        (attachment, "Could not use photo.png. Cannot read image.")
    ]
    chat.send("what is it?", [attachment])
    assert engine.of_type(ev.SendMessage)[0].content == [
        {"type": "image", "image": str(attachment.path)},
        {"type": "text", "text": "what is it?"},
    ]


def test_deleting_a_conversation_stops_and_closes_its_session(store):
    chat, engine, _ = make_chat(store)
    chat.send("bye")
    conv = chat.current_id
    chat.delete(conv)
    assert [c.session_id for c in engine.of_type(ev.Cancel)] == [conv]
    assert [c.session_id for c in engine.of_type(ev.CloseSession)] == [conv]
    assert chat.current_id is None and store.conversation(conv) is None and chat.pending == {}


def test_a_voice_turn_is_refused_during_an_answer_and_a_cancelled_one_rolls_back(store):
    chat, engine, _ = make_chat(store)
    chat.send("first")
    with pytest.raises(TurnRefused, match="Wait for the answer"):
        chat.start_voice_turn()
    answer(chat, engine, "done")
    session = chat.start_voice_turn()
    assert engine.of_type(ev.StartVoiceTurn)[0].session_id == session == chat.current_id
    chat.cancel_voice_turn(session)
    assert engine.kinds()[-2:] == ["Cancel", "Rollback"]
    assert engine.of_type(ev.Rollback)[0].turn == 1  # back to before the spoken turn


def test_a_text_only_model_takes_no_media(store):
    chat, engine, _ = make_chat(store)
    assert chat.media_kinds == {"image", "audio", "video"}
    chat.load_model(ev.LoadModel(path="models/text-only"))
    chat.handle(ev.ModelLoaded(request_id=engine.commands[-1].request_id, has_vision=False,
                               has_audio=False))
    assert chat.media_kinds == frozenset()


def test_switching_versions_feeds_the_engine_the_stored_conversation(store):
    chat, engine, listener = make_chat(store)
    chat.send("q")
    answer(chat, engine, "one")
    conv = chat.current_id
    cache = store.session_cache_path(conv)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"the KV cache of the live version")
    chat.regenerate(1)
    answer(chat, engine, "two")
    assert chat.variant_places() == {1: VariantPlace(2, 2)}
    before = len(engine.commands)
    messages = chat.switch_variant(1, 1)
    assert [m.content for m in messages] == ["q", "one"]
    opened, history = engine.commands[before:]
    assert isinstance(opened, ev.OpenSession) and opened.session_id == conv
    assert isinstance(history, ev.LoadHistory) and not history.answer
    assert history.messages == [{"role": "user", "content": "q"},
                                {"role": "assistant", "content": "one"}]
    assert not cache.exists()  # it held the other version
    assert chat.switch_variant(1, 1) is None and len(engine.commands) == before + 2
    chat.send("more")  # answering: no switching until it ends
    assert chat.switch_variant(1, 2) is None
    assert [m.content for m in store.messages(conv)] == ["q", "one", "more"]


def real_model(chat, engine):
    chat.load_model(ev.LoadModel(path="models/real"))
    chat.handle(ev.ModelLoaded(request_id=engine.commands[-1].request_id, name="real"))


def test_the_model_titles_the_first_answer_unless_the_person_named_it_first(store):
    chat, engine, listener = make_chat(store)
    real_model(chat, engine)
    chat.send("Where to in April?")
    answer(chat, engine, "Kyoto.")
    [asked] = engine.of_type(ev.WriteTitle)
    conv = chat.current_id
    assert asked.text == "User: Where to in April?\n\nAssistant: Kyoto."
    chat.handle(ev.TitleWritten(request_id=asked.request_id, title="Spring trip"))
    assert store.conversation(conv).title == "Spring trip"

    chat.new_conversation()
    chat.send("hello")
    answer(chat, engine, "Hi.")
    second = engine.of_type(ev.WriteTitle)[-1]
    chat.rename(chat.current_id, "Mine")  # before the title came back
    chat.handle(ev.TitleWritten(request_id=second.request_id, title="Greeting"))
    assert store.conversation(chat.current_id).title == "Mine"

    chat.new_conversation()
    chat.send("busy")
    answer(chat, engine, "One.")
    third = engine.of_type(ev.WriteTitle)[-1]
    chat.handle(ev.TurnFinished(request_id=third.request_id, reason="cancelled"))  # stopped
    assert store.conversation(chat.current_id).title == "busy"  # the fallback stays...
    chat.send("next")
    answer(chat, engine, "Two.")
    fourth = engine.of_type(ev.WriteTitle)[-1]
    assert fourth.request_id != third.request_id  # ...and it is asked again after the next answer
    assert fourth.text == "User: busy\n\nAssistant: One."
    chat.send("again")  # while it is on its way, no second one
    answer(chat, engine, "Three.")
    assert engine.of_type(ev.WriteTitle)[-1] is fourth
    chat.handle(ev.TitleWritten(request_id=fourth.request_id, title="Busy day"))
    chat.send("last")
    answer(chat, engine, "Four.")
    assert engine.of_type(ev.WriteTitle)[-1] is fourth  # titled: nothing more
    assert store.conversation(chat.current_id).title == "Busy day"


def test_a_demo_model_asks_for_no_titles(store):
    chat, engine, _ = make_chat(store)
    chat.handle(ev.ModelLoaded(request_id=engine.commands[0].request_id, random_weights=True))
    chat.send("q")
    answer(chat, engine, "noise")
    assert engine.of_type(ev.WriteTitle) == []


def test_each_kv_precision_saves_its_own_cache_and_another_one_replays_the_turns(store):
    chat, engine, _ = make_chat(store)
    chat.preferences.bits = 8
    chat.send("Capital of France?")
    assert engine.of_type(ev.OpenSession)[0].kv_bits == 8
    answer(chat, engine, "Paris.")
    conv = chat.current_id
    [save] = engine.of_type(ev.SaveSession)
    assert save.path == str(store.session_cache_path(conv).with_name(f"{conv}.kv8.safetensors"))
    Path(save.path).parent.mkdir(parents=True, exist_ok=True)
    Path(save.path).write_bytes(b"cache")

    again, engine2, _ = make_chat(store)  # restarted with full precision: the 8-bit cache is not read
    again.open_conversation(conv)
    again.send("And Germany?")
    assert engine2.kinds()[1:] == ["OpenSession", "LoadHistory", "SendMessage"]
    assert engine2.of_type(ev.OpenSession)[0].kv_bits is None

    third, engine3, _ = make_chat(store)  # 8-bit again: its own cache is read back
    third.preferences.bits = 8
    third.open_conversation(conv)
    third.send("And Spain?")
    assert engine3.kinds()[1:] == ["OpenSession", "LoadSession", "SendMessage"]
    assert engine3.of_type(ev.LoadSession)[0].path == save.path
