"""The file tools: list a folder, read a file, search the tree, and plan writes and edits.

Every function takes a `Workspace` and model-supplied arguments, and returns the dict that goes back
to the model as the tool response. Problems the model can fix (missing file, passage not found)
raise `ToolError` with a message that says what to do instead.

Writes and edits are planned first (`plan_write`, `plan_edit` return a `FileChange` with a unified
diff for the approval prompt) and applied only after approval (`FileChange.apply`).

Search respects .gitignore by asking git (`git ls-files --cached --others --exclude-standard` on the
shadow checkpoint repository, see `app.agent.checkpoints`), so it sees the same files undo tracks.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from app.agent.workspace import Workspace

MAX_LIST_ENTRIES = 300
MAX_READ_LINES = 400
MAX_READ_CHARS = 24_000
MAX_SEARCH_HITS = 100
MAX_SEARCH_FILE_BYTES = 2_000_000  # larger files are skipped by search
MAX_TEXT_FILE_BYTES = 20_000_000  # read_file and edit_file refuse larger files


class ToolError(Exception):
    """A tool could not do what was asked; the message goes back to the model."""


def _read_text(path: Path, shown: str) -> str:
    if not path.exists():
        raise ToolError(f"{shown} does not exist; use list_dir to see what is there")
    if path.is_dir():
        raise ToolError(f"{shown} is a folder; use list_dir to list it")
    if path.stat().st_size > MAX_TEXT_FILE_BYTES:
        raise ToolError(
            f"{shown} is too large to read ({path.stat().st_size} bytes); "
            "use run_command with head, tail or grep"
        )
    data = path.read_bytes()
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
    if not real.is_dir():
        raise ToolError(f"{shown} is not a folder")
    entries = sorted(
        (p for p in real.iterdir() if p.name != ".git"), key=lambda p: (not p.is_dir(), p.name)
    )
    names = [p.name + "/" if p.is_dir() else p.name for p in entries]
    response: dict = {"path": shown, "entries": names[:MAX_LIST_ENTRIES]}
    if len(names) > MAX_LIST_ENTRIES:
        response["note"] = f"{len(names) - MAX_LIST_ENTRIES} more entries not shown"
    return response


def read_file(ws: Workspace, path: str, start_line: int = 1, end_line: int | None = None) -> dict:
    """Lines `start_line`..`end_line` (1-based, inclusive) of a text file, capped."""
    real = ws.resolve(path)
    shown = ws.relative(real)
    lines = _read_text(real, shown).splitlines(keepends=True)
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


def search(
    ws: Workspace, files: list[str], pattern: str, *, regex: bool = False, path: str = "."
) -> dict:
    """Lines matching `pattern` in `files` (workspace-relative, already filtered for .gitignore).

    Args:
        files: the candidate files, from `Checkpoints.visible_files(path)`.
        pattern: plain text (case-sensitive) or, with `regex`, a Python regular expression.
    """
    if not pattern:
        raise ToolError("pattern is empty")
    try:
        matcher = re.compile(pattern if regex else re.escape(pattern))
    except re.error as exc:
        raise ToolError(
            f"invalid regular expression: {exc}; set regex=false for plain text"
        ) from None
    base = ws.relative(ws.resolve(path))
    hits: list[str] = []
    total = 0
    for rel in files:
        real = ws.root / rel
        if real.is_symlink() or real.stat().st_size > MAX_SEARCH_FILE_BYTES:
            continue
        data = real.read_bytes()
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
    return response


@dataclass(frozen=True)
class FileChange:
    """A planned write: what the file holds now (None when new) and what it will hold."""

    path: Path
    shown: str
    old: bytes | None
    new: bytes

    def diff(self) -> str:
        old = _diff_lines(self.old or b"")
        new = _diff_lines(self.new)
        before = "/dev/null" if self.old is None else f"a/{self.shown}"
        return "".join(difflib.unified_diff(old, new, before, f"b/{self.shown}"))

    def apply(self) -> dict:
        """Write the new bytes, unless the file changed since the change was planned."""
        current = self.path.read_bytes() if self.path.exists() else None
        if current != self.old:
            raise ToolError(f"{self.shown} changed while waiting for approval; read it again")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(self.new)
        verb = "created" if self.old is None else "updated"
        return {"path": self.shown, "result": f"{verb} ({len(self.new)} bytes)"}


def plan_write(ws: Workspace, path: str, content: str) -> FileChange:
    """Write `content` as the whole file (created with its folders when missing)."""
    real = ws.resolve(path, for_write=True)
    shown = ws.relative(real)
    if real.is_dir():
        raise ToolError(f"{shown} is a folder")
    old = real.read_bytes() if real.exists() else None
    return FileChange(real, shown, old, content.encode("utf-8"))


def plan_edit(ws: Workspace, path: str, old_text: str, new_text: str) -> FileChange:
    """Replace the one passage equal to `old_text` with `new_text`."""
    real = ws.resolve(path, for_write=True)
    shown = ws.relative(real)
    text = _read_text(real, shown)
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
    return FileChange(
        real, shown, real.read_bytes(), text.replace(old_text, new_text).encode("utf-8")
    )


def _diff_lines(data: bytes) -> list[str]:
    """Lines for a unified diff; a last line without a newline gets git's marker, not a merge."""
    lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
