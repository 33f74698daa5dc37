"""The agent's tools: their JSON-schema declarations, argument checks and dispatch.

Tools and their kinds (the kind decides whether the person is asked, see `app.agent.permissions`):
    list_dir(path)                               read
    read_file(path, start_line, end_line)        read
    search(pattern, regex, path)                 read
    write_file(path, content)                    edit
    edit_file(path, old_text, new_text)          edit
    run_command(command, timeout_s)              run

`check(call)` validates a call against its declaration and raises `ToolError` with a message for
the model. `Toolbox.run_read` runs a read tool (a search stops when `cancel` is set);
`Toolbox.plan_change` plans an edit (with its diff) without touching the disk; `Toolbox.apply`
writes it through the run's undo recorder.
"""

from __future__ import annotations

import threading
from typing import Any

from app.agent import files
from app.agent.files import FileChange, ToolError
from app.agent.undo import UndoPoints
from app.agent.workspace import PathEscapeError, Workspace
from engine.inputs.types import ToolCall

MAX_COMMAND_TIMEOUT_S = 600
DEFAULT_COMMAND_TIMEOUT_S = 120


def _fn(name: str, description: str, properties: dict[str, dict], required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


_PATH = {"type": "string", "description": "Path relative to the workspace root"}

DECLARATIONS: list[dict] = [
    _fn("list_dir", "List the files and folders in a folder.", {"path": _PATH}, []),
    _fn(
        "read_file",
        "Read a text file, optionally only some lines.",
        {
            "path": _PATH,
            "start_line": {"type": "integer", "description": "First line to read (1-based)"},
            "end_line": {"type": "integer", "description": "Last line to read (inclusive)"},
        },
        ["path"],
    ),
    _fn(
        "search",
        "Find lines that contain a text or match a regular expression, "
        "in the files not ignored by .gitignore.",
        {
            "pattern": {"type": "string", "description": "Text to find, or a regular expression"},
            "regex": {"type": "boolean", "description": "Treat pattern as a regular expression"},
            "path": {
                "type": "string",
                "description": "Folder to search in (default: the workspace)",
            },
        },
        ["pattern"],
    ),
    _fn(
        "write_file",
        "Create a file or replace its whole content.",
        {"path": _PATH, "content": {"type": "string", "description": "The complete new content"}},
        ["path", "content"],
    ),
    _fn(
        "edit_file",
        "Replace one passage of a file. old_text must appear exactly once in the file.",
        {
            "path": _PATH,
            "old_text": {"type": "string", "description": "The exact passage to replace"},
            "new_text": {"type": "string", "description": "The passage to put in its place"},
        },
        ["path", "old_text", "new_text"],
    ),
    _fn(
        "run_command",
        "Run a shell command in the workspace folder and return its output and exit code.",
        {
            "command": {"type": "string", "description": "The shell command"},
            "timeout_s": {
                "type": "integer",
                "description": "Seconds before it is killed (default 120)",
            },
        },
        ["command"],
    ),
]

KINDS = {
    "list_dir": "read",
    "read_file": "read",
    "search": "read",
    "write_file": "edit",
    "edit_file": "edit",
    "run_command": "run",
}

_PY_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "boolean": (bool,)}
_SCHEMAS = {d["function"]["name"]: d["function"]["parameters"] for d in DECLARATIONS}


def check(call: ToolCall) -> dict[str, Any]:
    """Validate `call` against its declaration; returns its arguments.

    Raises:
        ToolError: unknown tool, missing or unexpected argument, or a wrong type.
    """
    schema = _SCHEMAS.get(call.name)
    if schema is None:
        raise ToolError(
            f"there is no tool named '{call.name}'; the tools are: {', '.join(_SCHEMAS)}"
        )
    props = schema["properties"]
    # Small models often send null for an optional argument they mean to leave out.
    args = {
        k: v for k, v in call.arguments.items() if not (v is None and k not in schema["required"])
    }
    missing = [k for k in schema["required"] if k not in args]
    if missing:
        raise ToolError(f"{call.name} needs the argument(s): {', '.join(missing)}")
    unknown = [k for k in args if k not in props]
    if unknown:
        raise ToolError(
            f"{call.name} has no argument(s) {', '.join(unknown)}; it takes: {', '.join(props)}"
        )
    for key, value in args.items():
        kind = props[key]["type"]
        if kind == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            args[key] = value = int(value)  # small models often quote numbers
        ok = isinstance(value, _PY_TYPES[kind]) and not (
            kind == "integer" and isinstance(value, bool)
        )
        if not ok:
            article = "an" if kind[0] in "aeiou" else "a"
            raise ToolError(
                f"{call.name}: '{key}' must be {article} {kind}, got {type(value).__name__}"
            )
    return args


class Toolbox:
    """Runs the tools against one workspace; writes go through its undo recorder."""

    def __init__(self, workspace: Workspace, undo: UndoPoints) -> None:
        self.workspace = workspace
        self.undo = undo

    def run_read(
        self, name: str, args: dict[str, Any], cancel: threading.Event | None = None
    ) -> dict:
        """Run a read tool; errors come back as ToolError."""
        ws = self.workspace
        try:
            if name == "list_dir":
                return files.list_dir(ws, args.get("path", "."))
            if name == "read_file":
                return files.read_file(
                    ws, args["path"], args.get("start_line", 1), args.get("end_line")
                )
            if name == "search":
                return files.search(
                    ws, args["pattern"], regex=args.get("regex", False),
                    path=args.get("path", "."), cancel=cancel,
                )  # fmt: skip
        except PathEscapeError as exc:
            raise ToolError(str(exc)) from None
        raise ToolError(f"{name} is not a read tool")

    def apply(self, change: FileChange) -> dict:
        """Write a planned change (checked again now) so that it can be undone."""
        return change.apply(self.undo)

    def plan_change(self, name: str, args: dict[str, Any]) -> FileChange:
        """Plan a write or edit; nothing is written until `FileChange.apply()`."""
        try:
            if name == "write_file":
                return files.plan_write(self.workspace, args["path"], args["content"])
            if name == "edit_file":
                return files.plan_edit(
                    self.workspace, args["path"], args["old_text"], args["new_text"]
                )
        except PathEscapeError as exc:
            raise ToolError(str(exc)) from None
        raise ToolError(f"{name} is not an edit tool")


def command_timeout(args: dict[str, Any]) -> int:
    """The timeout asked for, clamped to 1..MAX_COMMAND_TIMEOUT_S."""
    return max(1, min(int(args.get("timeout_s", DEFAULT_COMMAND_TIMEOUT_S)), MAX_COMMAND_TIMEOUT_S))
