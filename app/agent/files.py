"""The file tools: list a folder, read a file, search the tree, and plan writes and edits.

Every function takes a `Workspace` and model-supplied arguments, and returns the dict that goes back
to the model as the tool response. Problems the model can fix (missing file, passage not found)
raise `ToolError` with a message that says what to do instead.

Reads never follow a link that was swapped in after the path was checked, and refuse FIFOs,
sockets and devices before opening them (`app.agent.workspace_io`), so no read can block.

Search walks the files `.gitignore` does not exclude (`app.agent.walk`, no git) and matches with
RE2 (`google-re2`): its matching time is linear in the text, whatever the pattern, so a pattern such
as `(a+)+$` cannot freeze the app. RE2 has no look-around and no back-references; such a pattern
gets a message saying so. Search stops between files when `cancel` is set.

Writes and edits are planned first (`plan_write`, `plan_edit` return a `FileChange` with a unified
diff for the approval prompt) and applied only after approval (`FileChange.apply`), which checks
the path again and writes through the undo recorder (`app.agent.undo.UndoPoints.write_file`).
"""

from __future__ import annotations

import difflib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
import re2

from app.agent import workspace_io as wio
from app.agent.undo import ChangedMeanwhileError, UndoPoints
from app.agent.walk import WalkStopped, walk
from app.agent.workspace import PathEscapeError, Workspace, is_git_name

MAX_LIST_ENTRIES = 300
MAX_READ_LINES = 400
MAX_READ_CHARS = 24_000
MAX_SEARCH_HITS = 100
MAX_SEARCH_FILE_BYTES = 2_000_000  # larger files are skipped by search
MAX_SEARCH_FILES = 20_000
MAX_TEXT_FILE_BYTES = 20_000_000  # read_file and edit_file refuse larger files
REGEX_MEMORY_BYTES = 8 << 20  # RE2's budget for one compiled pattern


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the model."""


class ToolStopped(ToolError):
    """The person stopped the run while the tool was working."""


def _read_bytes(ws: Workspace, real: Path, shown: str, limit: int | None = None) -> bytes:
    limit = MAX_TEXT_FILE_BYTES if limit is None else limit
    try:
        data, _ = wio.read_file(ws.root, ws.relative(real), limit)
    except FileNotFoundError:
        raise ToolError(f"{shown} does not exist; use list_dir to see what is there") from None
    except wio.NotRegularFileError as exc:
        st = wio.lstat(ws.root, ws.relative(real))
        if st is not None and wio.kind_of(st.st_mode) == "dir":
            raise ToolError(f"{shown} is a folder; use list_dir to list it") from None
        raise ToolError(f"{exc}; it cannot be read or written by the file tools") from None
    except ValueError:
        raise ToolError(
            f"{shown} is too large to read (over {limit} bytes); "
            "use run_command with head, tail or grep"
        ) from None
    except PathEscapeError as exc:
        raise ToolError(str(exc)) from None
    return data


def _read_text(ws: Workspace, real: Path, shown: str) -> str:
    return _text_of(_read_bytes(ws, real, shown), shown)


def _text_of(data: bytes, shown: str) -> str:
    if b"\x00" in data[:8192]:
        raise ToolError(f"{shown} is a binary file; it cannot be read as text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(f"{shown} is not UTF-8 text ({exc.reason})") from None


def list_dir(ws: Workspace, path: str = ".") -> dict:
    """Entries of one folder, folders first, with a trailing "/" on folder names."""
    real = ws.resolve(path)
    shown = ws.relative(real)
    try:
        with wio.open_dir(ws.root, wio.split(ws.relative(real))) as fd:
            with os.scandir(fd) as it:
                found = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except (FileNotFoundError, NotADirectoryError):
        raise ToolError(f"{shown} is not a folder") from None
    except PathEscapeError as exc:
        raise ToolError(str(exc)) from None
    entries = sorted(
        ((name, is_dir) for name, is_dir in found if not is_git_name(name)),
        key=lambda item: (not item[1], item[0]),
    )
    names = [name + "/" if is_dir else name for name, is_dir in entries]
    response: dict = {"path": shown, "entries": names[:MAX_LIST_ENTRIES]}
    if len(names) > MAX_LIST_ENTRIES:
        response["note"] = f"{len(names) - MAX_LIST_ENTRIES} more entries not shown"
    return response


def read_file(ws: Workspace, path: str, start_line: int = 1, end_line: int | None = None) -> dict:
    """Lines `start_line`..`end_line` (1-based, inclusive) of a text file, capped."""
    real = ws.resolve(path)
    shown = ws.relative(real)
    lines = _read_text(ws, real, shown).splitlines(keepends=True)
    total = len(lines)
    if start_line < 1:
        raise ToolError("start_line must be 1 or more")
    if total and start_line > total:
        raise ToolError(f"{shown} has only {total} lines")
    last = total if end_line is None else min(end_line, total)
    if last < start_line and total:
        raise ToolError("end_line must not be before start_line")
    last = min(last, start_line + MAX_READ_LINES - 1)
    chosen: list[str] = []
    size = 0
    for line in lines[start_line - 1 : last]:
        if chosen and size + len(line) > MAX_READ_CHARS:
            break
        chosen.append(line)
        size += len(line)
    last = start_line + len(chosen) - 1
    content = "".join(chosen)
    response: dict = {
        "path": shown,
        "start_line": start_line,
        "end_line": last,
        "total_lines": total,
        "content": content,
    }
    if last < total:
        response["note"] = f"more lines follow; read from start_line={last + 1}"
    return response


def compile_pattern(pattern: str, regex: bool):  # -> a compiled RE2 pattern
    """An RE2 matcher for `pattern` (plain text unless `regex`); ToolError when it is invalid."""
    if not pattern:
        raise ToolError("pattern is empty")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = REGEX_MEMORY_BYTES
    options.literal = not regex
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", errors="replace")
        raise ToolError(
            f"invalid regular expression ({detail}); the search supports RE2 syntax, without "
            "look-around or back-references. Set regex=false for plain text"
        ) from None


def search(
    ws: Workspace,
    pattern: str,
    *,
    regex: bool = False,
    path: str = ".",
    cancel: threading.Event | None = None,
) -> dict:
    """Lines matching `pattern` in the files under `path` that `.gitignore` does not exclude."""
    matcher = compile_pattern(pattern, regex)
    real = ws.resolve(path)
    base = ws.relative(real)
    under = "" if base == "." else base
    try:
        seen = walk(ws.root, under, limit=MAX_SEARCH_FILES * 4, cancel=cancel)
    except (FileNotFoundError, NotADirectoryError):
        raise ToolError(f"{base} is not a folder") from None
    except PathEscapeError as exc:
        raise ToolError(str(exc)) from None
    except WalkStopped:
        raise ToolStopped("stopped by the user") from None
    candidates = [rel for rel, e in seen.entries.items() if e.kind == "file"]
    hits: list[str] = []
    total = 0
    for rel in candidates[:MAX_SEARCH_FILES]:
        if cancel is not None and cancel.is_set():
            raise ToolStopped("stopped by the user")
        if seen.entries[rel].size > MAX_SEARCH_FILE_BYTES:
            continue
        try:
            data, _ = wio.read_file(ws.root, rel, MAX_SEARCH_FILE_BYTES)
        except (OSError, ValueError):
            continue  # gone, replaced or grown meanwhile
        if b"\x00" in data[:8192]:
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if matcher.search(line):
                total += 1
                if len(hits) < MAX_SEARCH_HITS:
                    hits.append(f"{rel}:{number}: {line.strip()[:200]}")
    response: dict = {"path": base, "matches": hits, "total": total}
    if total > len(hits):
        response["note"] = f"{total - len(hits)} more matches not shown; narrow the search"
    if len(candidates) > MAX_SEARCH_FILES or not seen.complete:
        response["note"] = (
            response.get("note", "") + " Only part of the tree was searched; give a folder."
        ).strip()
    return response


@dataclass(frozen=True)
class FileChange:
    """A planned write: what the file holds now (None when new) and what it will hold."""

    path: Path
    shown: str
    old: bytes | None
    new: bytes
    workspace: Workspace | None = None

    def diff(self) -> str:
        old = _diff_lines(self.old or b"")
        new = _diff_lines(self.new)
        before = "/dev/null" if self.old is None else f"a/{self.shown}"
        return "".join(difflib.unified_diff(old, new, before, f"b/{self.shown}"))

    def apply(self, undo: UndoPoints | None = None) -> dict:
        """Write the new bytes, unless the file changed since the change was planned.

        The path is checked again now (a link swapped in since the plan is refused) and the write
        goes through `undo` when given, so that it can be taken back.
        """
        ws = self.workspace
        if ws is None:
            raise ValueError("a FileChange made without a workspace cannot be applied")
        try:
            rel = ws.relative(ws.resolve(self.shown, for_write=True))
            if undo is not None:
                result = undo.write_file(rel, self.new, self.old)
            else:
                try:
                    current, _ = wio.read_file(ws.root, rel)
                except FileNotFoundError:
                    current = None
                if current != self.old:
                    raise ChangedMeanwhileError(rel)
                result = wio.write_file(ws.root, rel, self.new)
        except ChangedMeanwhileError:
            raise ToolError(
                f"{self.shown} changed while waiting for approval; read it again"
            ) from None
        except PathEscapeError as exc:
            raise ToolError(str(exc)) from None
        verb = "created" if self.old is None else "updated"
        response = {"path": self.shown, "result": f"{verb} ({len(self.new)} bytes)"}
        if result.broke_hard_link:
            response["note"] = (
                "the file had other hard links; it is now a file of its own and the other names "
                "keep the old content"
            )
        return response


def plan_write(ws: Workspace, path: str, content: str) -> FileChange:
    """Write `content` as the whole file (created with its folders when missing)."""
    real = ws.resolve(path, for_write=True)
    shown = ws.relative(real)
    st = wio.lstat(ws.root, shown)
    old = None if st is None else _read_bytes(ws, real, shown)
    return FileChange(real, shown, old, content.encode("utf-8"), ws)


def plan_edit(ws: Workspace, path: str, old_text: str, new_text: str) -> FileChange:
    """Replace the one passage equal to `old_text` with `new_text`."""
    real = ws.resolve(path, for_write=True)
    shown = ws.relative(real)
    raw = _read_bytes(ws, real, shown)
    text = _text_of(raw, shown)
    if not old_text:
        raise ToolError("old_text is empty; to write a whole file use write_file")
    if "\r\n" in text and "\r\n" not in old_text:
        # The model writes "\n"; match the file's Windows line endings and keep them.
        old_text, new_text = old_text.replace("\n", "\r\n"), new_text.replace("\n", "\r\n")
    count = text.count(old_text)
    if count == 0:
        hint = "read the file and copy the passage exactly, including spaces and indentation"
        if old_text.strip() and old_text.strip() in text:
            hint = "it matches only with different leading or trailing whitespace; copy it exactly"
        raise ToolError(f"old_text was not found in {shown}; {hint}")
    if count > 1:
        raise ToolError(
            f"old_text appears {count} times in {shown}; "
            "include more surrounding lines so that it is unique"
        )
    return FileChange(real, shown, raw, text.replace(old_text, new_text).encode("utf-8"), ws)


def _diff_lines(data: bytes) -> list[str]:
    """Lines for a unified diff; a last line without a newline gets git's marker, not a merge."""
    lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
