"""Chat prompt rendering through a checkpoint's Jinja chat template.

Contract:
- `load_template(checkpoint_dir)` returns the checkpoint's own template: `chat_template.jinja`, else the
  `chat_template` of `tokenizer_config.json` (a string, or a list of named templates: "default"), else
  that of `chat_template.json`, else Tandem's template (`chat_template.jinja` beside this module).
- `render_chat(messages, template=..., tools=..., enable_thinking=..., add_generation_prompt=...)`
  renders the way transformers' `apply_chat_template` does: a sandboxed Jinja environment with
  trim_blocks and lstrip_blocks, the `tojson` filter, the `raise_exception` and `strftime_now`
  globals and the `{% generation %}` tag, with `bos_token` "<bos>".
- Messages: `role` (system, developer, user, assistant, tool), `content` a string, None, or a list of
  `{"type": "text", "text": ...}` / `{"type": "image" | "audio" | "video", ...}` items (media items
  render as placeholders; their payload never reaches the template). Assistant `tool_calls` are
  `[{"function": {"name", "arguments"}}]` or `[{"name", "arguments"}]`; arguments given as a JSON
  string are decoded. `tool_responses` are `[{"name", "response"}]`. Tools are OpenAI-style
  `{"type": "function", "function": {...}}` or bare function dicts.
- Bad messages raise `MessageError` (a `ValueError`) that names the message and the problem; a
  template that fails raises `ValueError`.

Incremental rendering (the live session renders the conversation so far, then with one more message,
and feeds the difference): rendering message i never depends on later messages, so with
`add_generation_prompt=False` a longer conversation's text starts with the shorter one's, as long as
`tools` and `enable_thinking` stay the same (both go into the system turn at the top);
`render_continuation(history, new_messages, ...)` returns that difference and checks it;
`render_tool_results(responses, ...)` gives the text that continues a turn after tool calls. The
exceptions the Gemma format itself makes:
- An assistant message is rendered from its content with thinking stripped and whitespace trimmed,
  so its text differs from the tokens the model generated (which hold the thinking or the empty
  thought channel). A session that keeps the generated tokens in its cache must not re-feed them.
- An assistant message with `tool_responses` and no content leaves its turn open (no `<turn|>`); the
  generation prompt after it adds no `<|turn>model\\n`, only (thinking off) the empty thought
  channel. Adding content later to that message changes its rendering; append a new message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

OWN_TEMPLATE = Path(__file__).with_name("chat_template.jinja")


class MessageError(ValueError):
    """A chat message, tool or tool call the template cannot render."""


ROLES = ("system", "developer", "user", "assistant", "model", "tool")
MEDIA_TYPES = ("image", "audio", "video")


def load_template(checkpoint_dir: str | Path | None = None) -> str:
    """The chat template for a checkpoint folder (see the module docstring for the search order)."""
    if checkpoint_dir is not None:
        d = Path(checkpoint_dir)
        if (d / "chat_template.jinja").is_file():
            return (d / "chat_template.jinja").read_text(encoding="utf-8")
        for name in ("tokenizer_config.json", "chat_template.json"):
            f = d / name
            if f.is_file():
                found = _template_from_json(
                    json.loads(f.read_text(encoding="utf-8")).get("chat_template")
                )
                if found:
                    return found
    return OWN_TEMPLATE.read_text(encoding="utf-8")


def _template_from_json(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list):  # [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        return named.get("default") or next((t for t in named.values() if t), None)
    return None


class _GenerationTag(Extension):
    """`{% generation %}...{% endgeneration %}` renders its body (transformers uses it to mark
    assistant text)."""

    tags: ClassVar[set[str]] = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller: Any) -> str:
        return caller()


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(
    x: Any,
    ensure_ascii: bool = False,
    indent: Any = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    # Jinja's own tojson escapes HTML characters; templates expect plain JSON.
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


@lru_cache(maxsize=8)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render_chat(
    messages: list[dict[str, Any]],
    *,
    template: str | None = None,
    tools: Iterable[dict[str, Any]] | None = None,
    enable_thinking: bool = False,
    add_generation_prompt: bool = True,
    bos_token: str = "<bos>",
) -> str:
    """Render messages to the prompt text (placeholders not yet expanded)."""
    if template is None:
        template = load_template(None)
    msgs = [_clean_message(i, m) for i, m in enumerate(messages)]
    tool_list = [_plain(t, f"tools[{i}]") for i, t in enumerate(tools)] if tools else None
    for i, t in enumerate(tool_list or []):
        f = t.get("function", t) if isinstance(t, dict) else None
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise MessageError(f"tools[{i}] must be a function dict with a 'name'")
    try:
        return _compile(template).render(
            messages=msgs,
            tools=tool_list,
            enable_thinking=enable_thinking,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
        )
    except jinja2.TemplateError as e:
        raise ValueError(f"the chat template failed: {e}") from e


def render_continuation(
    history: list[dict[str, Any]],
    new_messages: list[dict[str, Any]],
    *,
    template: str | None = None,
    tools: Iterable[dict[str, Any]] | None = None,
    enable_thinking: bool = False,
    add_generation_prompt: bool = True,
) -> str:
    """The text that `new_messages` add after `history` (rendered without a generation prompt).

    Raises `MessageError` when the template renders `history` differently once more messages
    follow, so the difference would not be a plain continuation.
    """
    tools = list(tools) if tools else None
    kw = {"template": template, "tools": tools, "enable_thinking": enable_thinking}
    before = render_chat(history, add_generation_prompt=False, **kw)
    after = render_chat(
        list(history) + list(new_messages), add_generation_prompt=add_generation_prompt, **kw
    )
    if not after.startswith(before):
        raise MessageError(
            "the chat template renders the earlier messages differently once new ones follow; "
            "re-render the whole conversation instead"
        )
    return after[len(before) :]


def render_tool_results(
    responses: list[dict[str, Any]],
    *,
    template: str | None = None,
    enable_thinking: bool = False,
) -> str:
    """The text that gives tool results to a model that stopped at `<|tool_response>` in its turn.

    `responses` are `[{"name", "response"}]`. The text is what the template renders for an open
    tool response plus the generation prompt after it, from `<|tool_response>` on: the results,
    and (thinking off) the empty thought channel. The model's own text before its call is not
    repeated, which re-rendering the message would do (the template puts content after responses).
    """
    if not responses:
        raise MessageError("render_tool_results needs at least one response")
    msg = {"role": "assistant", "tool_responses": responses}
    text = render_chat([msg], template=template, enable_thinking=enable_thinking)
    start = text.find("<|tool_response>")
    if start < 0:
        raise MessageError("the chat template does not render tool responses with <|tool_response>")
    return text[start:]


def _clean_message(i: int, m: Any) -> dict[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise MessageError(
            f"{where} must be a dict with 'role' and 'content', got {type(m).__name__}"
        )
    role = m.get("role")
    if role not in ROLES:
        raise MessageError(f"{where} has role {role!r}; expected one of {', '.join(ROLES)}")
    out: dict[str, Any] = {"role": role}
    content = m.get("content")
    if content is None or isinstance(content, str):
        out["content"] = content
    elif isinstance(content, (list, tuple)):
        out["content"] = [_clean_item(f"{where}.content[{j}]", it) for j, it in enumerate(content)]
    else:
        raise MessageError(f"{where}.content must be a string, a list of items or None")
    if m.get("tool_calls"):
        out["tool_calls"] = [
            _clean_call(f"{where}.tool_calls[{j}]", c) for j, c in enumerate(m["tool_calls"])
        ]
    if m.get("tool_responses"):
        rs = []
        for j, r in enumerate(m["tool_responses"]):
            if not isinstance(r, dict) or "response" not in r:
                raise MessageError(
                    f"{where}.tool_responses[{j}] must be a dict with 'name' and 'response'"
                )
            rs.append(_plain({"name": r.get("name", "unknown"), "response": r["response"]}, where))
        out["tool_responses"] = rs
    for k, v in m.items():  # keep other plain fields a checkpoint's template may read
        if k not in out and k not in ("tool_calls", "tool_responses"):
            try:
                out[k] = _plain(v, f"{where}.{k}")
            except ValueError:
                pass  # app-side data (attachments, ids) that no template reads
    return out


def _clean_item(where: str, it: Any) -> dict[str, Any]:
    if not isinstance(it, dict) or "type" not in it:
        raise MessageError(f"{where} must be a dict with a 'type'")
    if it["type"] == "text":
        if not isinstance(it.get("text"), str):
            raise MessageError(f"{where} is a text item without a 'text' string")
        return {"type": "text", "text": it["text"]}
    if it["type"] in MEDIA_TYPES:
        return {"type": it["type"]}  # the payload is for preprocessing, not for the template
    raise MessageError(f"{where} has type {it['type']!r}; expected text, image, audio or video")


def _clean_call(where: str, c: Any) -> dict[str, Any]:
    f = c.get("function", c) if isinstance(c, dict) else None
    if not isinstance(f, dict) or not isinstance(f.get("name"), str):
        raise MessageError(
            f"{where} must be {{'function': {{'name', 'arguments'}}}} or {{'name', 'arguments'}}"
        )
    args = f.get("arguments", {})
    if isinstance(args, str):
        try:
            decoded = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict):
            args = decoded
    if args is None:
        args = {}
    if not isinstance(args, (dict, str)):
        raise MessageError(f"{where}.arguments must be a dict or a JSON object string")
    return {"type": "function", "function": {"name": f["name"], "arguments": _plain(args, where)}}


def _plain(v: Any, where: str) -> Any:
    """Rebuild data from plain JSON types, so no rich object reaches the sandboxed template."""
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, dict):
        return {str(k): _plain(x, where) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x, where) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return _plain(v.item(), where)
    raise MessageError(f"{where} holds a {type(v).__name__}, which a chat template cannot render")
