"""An engine error's kind decides the HTTP status (not its text), with a scripted engine."""

import openai
import pytest
from scripted_worker import ScriptedWorker

from engine import protocol as ev
from engine.server.server import start_server

KEY = "k"


@pytest.mark.parametrize("kind,status", [
    ("no_model", 503), ("too_long", 400), ("bad_request", 400), ("not_found", 400), ("internal", 500)])
def test_error_kind_sets_the_status(kind, status):
    holder = {}
    # The same sentence for every kind: the status must come from the kind alone.
    error = ev.ErrorEvent(message="no model is loaded yet", kind=kind)
    worker = ScriptedWorker(lambda e: holder["handle"].on_event(e), {"SendMessage": [error]})
    holder["handle"] = handle = start_server(worker, "127.0.0.1", 0, KEY, model_name="scripted")
    try:
        client = openai.OpenAI(base_url=handle.url + "/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert e.value.status_code == status
        assert "no model is loaded yet" in str(e.value)
    finally:
        handle.stop()
        worker.stop()
