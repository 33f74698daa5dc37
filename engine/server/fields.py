"""Reading request bodies by hand, with errors that name the field (both APIs share these).

Each getter returns the field's value or the default, and raises `RequestError` (HTTP 400) when the
field is present with the wrong type or out of range. `generation_settings` maps the sampling
fields both APIs have to `engine.protocol.GenerationSettings`.
"""

from __future__ import annotations

from typing import Any

from engine.protocol import GenerationSettings
from engine.server.items import RequestError

DEFAULT_MAX_TOKENS = 4096  # when a client sets none; the session also stops at the context's end

_MISSING = object()


def get(
    body: dict,
    name: str,
    kind: type | tuple,
    default: Any = None,
    where: str = "",
    required: bool = False,
) -> Any:
    path = f"{where}.{name}" if where else name
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise RequestError(f"'{path}' is required", path)
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if bool not in kinds and isinstance(value, bool) and (int in kinds or float in kinds):
        raise RequestError(f"'{path}' must be a number, not a boolean", path)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds):
        names = " or ".join(
            k.__name__.replace("dict", "object").replace("list", "array").replace("str", "string")
            for k in kinds
        )
        raise RequestError(f"'{path}' must be {names}, got {type(value).__name__}", path)
    return value


def number_in(body: dict, name: str, low: float, high: float, default: float | None) -> Any:
    value = get(body, name, float, default)
    if value is not None and not low <= value <= high:
        raise RequestError(f"'{name}' must be between {low} and {high}, got {value}", name)
    return value


def positive_int(body: dict, name: str, default: int | None = None) -> int | None:
    value = get(body, name, int, default)
    if value is not None and value < 1:
        raise RequestError(f"'{name}' must be at least 1, got {value}", name)
    return value


def string_list(body: dict, name: str, limit: int, max_chars: int) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise RequestError(f"'{name}' must be a string or an array of strings", name)
    if len(value) > limit:
        raise RequestError(f"'{name}' has {len(value)} entries; at most {limit} are allowed", name)
    if any(len(s) > max_chars for s in value):
        raise RequestError(f"'{name}' entries must be at most {max_chars} characters", name)
    return value


def generation_settings(
    body: dict, max_tokens: int | None, enable_thinking: bool, top_k: int | None = None
) -> GenerationSettings:
    base = GenerationSettings()
    temperature = number_in(body, "temperature", 0.0, 2.0, base.temperature)
    top_p = number_in(body, "top_p", 0.0, 1.0, base.top_p)
    if top_p == 0:
        raise RequestError("'top_p' must be above 0", "top_p")
    seed = get(body, "seed", int)
    return GenerationSettings(
        temperature=temperature,
        top_p=top_p,
        top_k=top_k if top_k is not None else base.top_k,
        min_p=base.min_p,
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        enable_thinking=enable_thinking,
        use_drafter=None,  # the engine's choice: on where the drafter pays off
        seed=seed,
    )
