"""Errors in each API's own shape: the official clients raise their own typed errors, unknown
routes and wrong methods included."""

import anthropic
import httpx
import openai
import pytest
from server_helpers import API_KEY

from engine.server.errors import (
    TurnError,
    anthropic_error,
    anthropic_message,
    is_anthropic_path,
    openai_code,
    openai_error,
)


def test_shapes_and_codes():
    assert openai_error(400, "bad", "messages") == {"error": {
        "message": "bad", "type": "invalid_request_error", "param": "messages", "code": None}}
    assert anthropic_error(404, "no") == {"type": "error", "error": {
        "type": "not_found_error", "message": "no"}}
    assert is_anthropic_path("/v1/messages/count_tokens") and not is_anthropic_path("/v1/messagesx")
    assert openai_code(400, "too_long") == "context_length_exceeded"
    assert openai_code(503) == "server_error" and openai_code(400) is None
    too_long = TurnError("the conversation is too long", 400, "too_long")
    assert anthropic_message(too_long) == "prompt is too long: the conversation is too long"
    assert anthropic_message(TurnError("no", 400)) == "no"


def test_an_unknown_openai_route_is_a_404_the_openai_client_understands(served):
    client = openai.OpenAI(base_url=served.base + "/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as e:
        client.embeddings.create(model="tiny", input="x")
    assert e.value.body["type"] == "invalid_request_error"
    assert "POST /v1/embeddings" in e.value.body["message"]


def test_an_unknown_anthropic_route_is_a_404_in_anthropic_shape(served):
    client = anthropic.Anthropic(base_url=served.base, api_key=API_KEY, max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.batches.list()
    assert e.value.body == {"type": "error", "error": {
        "type": "not_found_error", "message": "there is no route GET /v1/messages/batches on "
                                              "this server"}}


@pytest.mark.parametrize("method, path, status, shape", [
    ("GET", "/v1/chat/completions", 405, "openai"),
    ("GET", "/v1/messages", 405, "anthropic"),
    ("POST", "/v1/nothing", 404, "openai"),
    ("GET", "/nothing", 404, "openai"),
])
def test_routes_and_methods(served, method, path, status, shape):
    r = httpx.request(method, served.base + path, headers={"x-api-key": API_KEY}, timeout=10)
    assert r.status_code == status
    body = r.json()
    if shape == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
    else:
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
