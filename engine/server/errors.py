"""Errors in each API's own shape, as their clients parse them.

- Anthropic's paths (`/v1/messages`, `/v1/messages/...`) answer `{"type": "error", "error": {"type",
  "message"}}` with Anthropic's error types; every other path answers OpenAI's `{"error": {"message",
  "type", "param", "code"}}`. Unknown routes and methods get these shapes too (404, 405).
- `TurnError` is a failure the engine reported for one request (its HTTP status, and the engine's
  error kind when the engine gives one, e.g. "too_long").
- `openai_code(status, kind)` is the `code` OpenAI's clients act on (Codex CLI reads
  "context_length_exceeded" to compact its history); `anthropic_message(error)` starts a too-long
  error with "prompt is too long", the words Anthropic's API uses and Claude Code acts on.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    500: "server_error",
    503: "server_error",
}
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    500: "api_error",
    503: "overloaded_error",
}


class TurnError(Exception):
    def __init__(self, message: str, status: int, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def is_anthropic_path(path: str) -> bool:
    return path == "/v1/messages" or path.startswith("/v1/messages/")


def openai_code(status: int, kind: str | None = None) -> str | None:
    if kind == "too_long":
        return "context_length_exceeded"
    return None if status < 500 else "server_error"


def anthropic_message(error: TurnError) -> str:
    text = str(error)
    return f"prompt is too long: {text}" if error.kind == "too_long" else text


def openai_error(status: int, message: str, param: str | None = None,
                 code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": OPENAI_TYPES.get(status, "server_error"),
                      "param": param, "code": code}}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    return {"type": "error",
            "error": {"type": ANTHROPIC_TYPES.get(status, "api_error"), "message": message}}


def error_response(path: str, status: int, message: str, param: str | None = None,
                   code: str | None = None, headers: dict | None = None) -> JSONResponse:
    body = (anthropic_error(status, message) if is_anthropic_path(path)
            else openai_error(status, message, param, code))
    return JSONResponse(body, status_code=status, headers=headers)
