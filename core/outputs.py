"""The way files go out: an output path is checked before any work (a directory where a file is expected, a parent
that is missing or not writable), and a write that fails names its file, so that a refusal is one line (exit 2)
naming the option and the path, never "Is a directory" after minutes of work or "a file: No space left".
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError

SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def _nearest(path: Path) -> Path:
    """The path itself or its closest ancestor that exists."""
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_file(path: Path, option: str) -> None:
    """Refuse, before any work, a file that cannot be written at `path` (the `option` that named it)."""
    where = f"{option} {path}"
    if path.is_dir():
        raise UserError(where, "is a directory: name a file")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UserError(where, f"cannot be written: {path.parent} is not a directory")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UserError(where, "cannot be written (permission denied)")
        kept = _kept(path)
        if kept:  # a ledger (`--out paybonus.db`) or a signing key: replacing it would lose the audit trail
            raise UserError(where, f"is {kept}: it is never overwritten; name another file")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(where, f"cannot be written: {path.parent} is not writable")


def _kept(path: Path) -> str:
    """What an existing file is, if no output may replace it ("" otherwise): a ledger or a private key. Only a
    regular file is read: opening a pipe (`--out /dev/stdout | ...`, `--out >(gzip > x.gz)`, a named pipe) or a
    terminal to read it would wait for ever for input no one writes."""
    if not path.is_file():
        return ""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return ""
    if head.startswith(SQLITE_HEADER):
        return "a SQLite database (a ledger?)"
    if head.startswith(b"-----BEGIN ") and b"PRIVATE KEY-----" in head:
        return "a private key"
    return ""


def check_dir(path: Path, option: str) -> None:
    """Refuse, before any work, a folder that cannot be created or written at `path`."""
    where = f"{option} {path}"
    found = _nearest(path)
    if not found.is_dir():
        raise UserError(where, f"cannot be a folder: {found} is a file")
    if not os.access(found, os.W_OK | os.X_OK):
        raise UserError(where, f"cannot be written: {found} is not writable")


def write_text(path: Path, text: str, option: str = "") -> None:
    """Write `path`; a failure (a full disk, a vanished folder) names the file."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise UserError(f"{option} {path}".strip(), f"cannot write ({exc.strerror or exc})") from None
