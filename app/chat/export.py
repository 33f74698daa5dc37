"""A conversation as a Markdown file, with its attachments in a folder beside it.

    export_markdown(store, conversation_id, Path("~/Desktop/Trip.md"))
    -> Trip.md and "Trip files/" (photo.png, Voice message.wav, ...), linked from the text

All or nothing: both are written under temporary names and renamed into place at the end, so a
failure (a full disk, a folder that cannot be written) leaves nothing half-written. Nothing that is
already there is deleted: an existing .md is replaced only once the new one is complete (the save
dialog asked), and a files folder that exists gets a sibling ("Trip files 2"). Raises OSError.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from app.store import Attachment, Message, Store

ROLE_HEADINGS = {"user": "You", "assistant": "Tandem"}


def files_folder(target: Path) -> Path:
    """Where the attachments of an export to `target` go: "<name> files" beside it ("<name>
    files 2" and so on when that folder is already there)."""
    folder, n = target.with_name(f"{target.stem} files"), 1
    while folder.exists():  # never write into (or over) a folder that is already there
        n += 1
        folder = target.with_name(f"{target.stem} files {n}")
    return folder


def export_markdown(store: Store, conversation_id: str, target: Path) -> Path:
    """Write the conversation to `target` (a .md file) and its attachments beside it; `target`."""
    conversation = store.conversation(conversation_id)
    if conversation is None:
        raise KeyError(f"No conversation with id {conversation_id!r}.")
    target = Path(target)
    folder = files_folder(target)
    messages = store.messages(conversation_id)
    names = _file_names([a for m in messages for a in m.attachments])
    staging = Path(tempfile.mkdtemp(prefix=".tandem-export-", dir=target.parent))
    try:
        staged_files = staging / folder.name
        if names:
            staged_files.mkdir()
            for attachment, name in names.items():
                shutil.copyfile(attachment.path, staged_files / name)
        created = datetime.fromtimestamp(conversation.created_at).strftime("%Y-%m-%d %H:%M")
        lines = [f"# {conversation.title}", "", f"*Exported from Tandem · started {created}*", ""]
        for message in messages:
            lines += _message_lines(message, names, folder.name)
        staged_text = staging / target.name
        staged_text.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
        if names:
            staged_files.replace(folder)
        try:
            staged_text.replace(target)
        except OSError:
            if names:
                shutil.rmtree(folder, ignore_errors=True)  # ours, made a moment ago
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _message_lines(message: Message, names: dict[Attachment, str], folder: str) -> list[str]:
    lines = [f"## {ROLE_HEADINGS.get(message.role, message.role.capitalize())}", ""]
    for attachment in message.attachments:
        link = f"<{folder}/{names[attachment]}>"
        bang = "!" if attachment.kind == "image" else ""
        lines += [f"{bang}[{_escape_label(attachment.filename)}]({link})", ""]
    if message.content:
        lines += [message.content, ""]
    for call in message.tool_calls:
        body = call.get("unparsed") or json.dumps(
            {"name": call.get("name", ""), "arguments": call.get("arguments", {})}, indent=2)
        lines += ["```json", body, "```", ""]
    if message.finish_reason == "cancelled":
        lines += ["*(stopped)*", ""]
    return lines


def _file_names(attachments: list[Attachment]) -> dict[Attachment, str]:
    """A distinct, safe file name for each attachment (the same file once)."""
    names: dict[Attachment, str] = {}
    taken: set[str] = set()
    for attachment in attachments:
        if attachment in names:
            continue
        stem = Path(attachment.filename).stem or attachment.kind or "file"
        stem = "".join(c if c.isprintable() and c not in '/\\:<>"|?*' else "_" for c in stem)
        stem = stem.strip(". ") or "file"
        name, n = f"{stem}{attachment.suffix}", 1
        while name.lower() in taken:
            n += 1
            name = f"{stem} {n}{attachment.suffix}"
        taken.add(name.lower())
        names[attachment] = name
    return names


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
