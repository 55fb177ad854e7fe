"""The one way text comes in: decoding, byte-order mark, line ends, TOML and JSON with depth and size limits.

Every reader of a user's file goes through here, so that a byte-order mark, CRLF line ends and the Unicode
separators U+2028, U+2029 and U+0085 are treated the same everywhere: a leading BOM is dropped, a line ends at
LF (a CR before it is dropped), and the Unicode separators are ordinary characters inside a value. Nesting is
limited (`MAX_DEPTH`) and so is the size of a file (`MAX_FILE_BYTES`): a hostile file is refused with one line,
never a RecursionError. Errors are `ValueError`s with a short message; callers add the file and line.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import UserError

MAX_DEPTH = 32  # nested tables, arrays or objects: the deepest real document is 5 levels
MAX_FILE_BYTES = 64 * 1024 * 1024  # a company directory's file, an events file, a DSN file
MAX_LINE_CHARS = 16 * 1024 * 1024  # one event (the objective results of 200 000 employees take 1.3 MB)
MAX_TEXT_CHARS = 10_000  # one string value (a name, a formula, a paragraph of wording)
MAX_EVENTS_BYTES = 2 * 1024**3  # an events file (publish reads it whole): generous, a bound on memory
MAX_LINE_BYTES = 4 * MAX_LINE_CHARS  # more bytes than this on a line are surely more than MAX_LINE_CHARS
MAX_KEY_BYTES = 64 * 1024  # a PEM signing key or a public key file
_CHUNK = 4 * 1024 * 1024


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def read_bounded(path: str | Path, limit: int, line_limit: int | None = None, what: str = "") -> bytes:
    """The bytes of a user's file (standard input for '-'), refused with one UserError naming the file and the limit
    when it holds more than `limit` bytes: a regular file by its size before any read, a stream, device or FIFO
    (/dev/zero, a pipe) after at most `limit` + 1 bytes, so that an endless or huge input never fills the memory.
    With `line_limit`, a line of more bytes is refused as soon as it is read ("<file>:<line>"). `what` names the
    file in a read error ("cannot read parameters (...)")."""
    where = str(path)
    try:
        if where == "-":
            return _read_stream(sys.stdin.buffer, where, limit, line_limit)
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                raise UserError(where, f"larger than {_size(limit)}, the most this file may be")
            return _read_stream(f, where, limit, line_limit)
    except OSError as exc:
        raise UserError(where, f"cannot read{' ' + what if what else ''} ({exc.strerror or exc})") from None


def read_events_text(path: str | Path) -> str:
    """An events (JSON-lines) file as text, standard input for '-': at most `MAX_EVENTS_BYTES`, a line at most
    `MAX_LINE_CHARS` (refused while reading, before the whole file is held), UTF-8; line ends as Python's text mode
    reads them (CRLF and CR become LF)."""
    raw = read_bounded(path, MAX_EVENTS_BYTES, MAX_LINE_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(str(path), "not UTF-8 text") from None
    del raw
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _read_stream(f: Any, where: str, limit: int, line_limit: int | None) -> bytes:
    chunks: list[bytes] = []
    total = 0
    since_newline = 0  # bytes since the last line end
    newlines = 0
    # a line wholly inside one chunk is shorter than the chunk: only lines across chunks need counting
    size = _CHUNK if line_limit is None else min(_CHUNK, line_limit)
    while total <= limit:
        chunk = f.read(min(size, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        chunks.append(chunk)
        if line_limit is not None:
            first = chunk.find(b"\n")
            if first < 0:
                since_newline += len(chunk)
            elif since_newline + first > line_limit:
                since_newline += first
            else:
                newlines += chunk.count(b"\n")
                since_newline = len(chunk) - chunk.rfind(b"\n") - 1
            if since_newline > line_limit:
                raise UserError(
                    f"{where}:{newlines + 1}", f"longer than {MAX_LINE_CHARS // (1024 * 1024)} MiB"
                )
    if total > limit:
        raise UserError(where, f"larger than {_size(limit)}, the most this file may be")
    return b"".join(chunks)


def decode(raw: bytes, legacy: str | None = None) -> str:
    """UTF-8 text without its byte-order mark; with `legacy` (e.g. "cp1252"), bytes that are not UTF-8 are read
    in that encoding, else refused. NUL bytes are refused: no text file holds them."""
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if b"\x00" in raw:
        raise ValueError("holds NUL bytes: not a text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        if legacy is None:
            raise ValueError("not UTF-8 text") from None
        text = raw.decode(legacy, errors="replace")
    return text.removeprefix("\ufeff")


def lines(text: str) -> list[str]:
    """The lines of a text: a leading BOM dropped, lines end at LF or CRLF only (U+2028, U+2029 or U+0085 inside
    a value is part of the value, never a line break)."""
    return [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]


def depth(value: Any) -> int:
    """How deeply lists and dicts nest in `value` (0 for a scalar), without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict | list):
            d += 1
            deepest = max(deepest, d)
            if deepest > MAX_DEPTH:
                return deepest
            todo.extend((x, d) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def _nested(text: str) -> int:
    """An upper bound of the nesting depth of a JSON or TOML text, from its brackets alone (no parsing; the
    other characters are dropped first, at C speed: a 50 MB value is not read one character at a time)."""
    level = deepest = 0
    for ch in _NOT_BRACKETS.sub("", text):
        if ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    return deepest


def load_toml(text: str) -> dict[str, Any]:
    """Parse TOML; `ValueError` for bad TOML or nesting deeper than `MAX_DEPTH`."""

    def parse(t: str) -> dict[str, Any]:
        try:
            return tomllib.loads(t)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML ({exc})") from None

    data: dict[str, Any] = _within_depth(text.removeprefix("\ufeff"), parse)
    return data


def json_error(exc: json.JSONDecodeError) -> str:
    """What is wrong, and where in its line ("Unterminated string starting at" already ends with "at")."""
    return f"malformed JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"


def load_json(text: str) -> Any:
    """Parse one JSON value, numbers with a decimal point as exact `Decimal`s; `ValueError` for bad JSON, nesting
    deeper than `MAX_DEPTH`, a number of more than 400 digits or a key given twice in one object."""
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"longer than {MAX_LINE_CHARS // (1024 * 1024)} MiB")

    def parse(t: str) -> Any:
        try:
            return json.loads(
                t, parse_float=Decimal, parse_int=_int, parse_constant=_constant, object_pairs_hook=_object
            )
        except json.JSONDecodeError as exc:
            raise ValueError(json_error(exc)) from None

    data = _within_depth(text, parse)
    # only an escape ("\ud800") can make a surrogate: decoded text has none
    if _SURROGATE_ESCAPE.search(text) is not None:
        lone = _lone_surrogate(data)
        if lone is not None:
            raise ValueError(
                f"\\u{ord(lone):04x} is half of a surrogate pair, not a character (not Unicode text)"
            )
    return data


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate (U+D800 to U+DFFF) in the strings and keys of parsed JSON, if any: UTF-8 cannot
    write it, so it could be neither hashed nor stored."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v)
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, str) and not v.isascii():
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:
                return v[exc.start]
    return None


def _within_depth(text: str, parse: Callable[[str], Any]) -> Any:
    """`parse(text)`, refusing nesting deeper than `MAX_DEPTH`: a gross excess before parsing (by the brackets
    alone, those inside strings count too), a parser's RecursionError, and the depth of what it read."""
    too_deep = f"nested more than {MAX_DEPTH} levels deep"
    if _nested(text) > MAX_DEPTH * 4:
        raise ValueError(too_deep)
    try:
        data = parse(text)
    except RecursionError:
        raise ValueError(too_deep) from None
    if depth(data) > MAX_DEPTH:
        raise ValueError(too_deep)
    return data


def _int(text: str) -> int:
    if len(text) > 400:  # Python refuses to read more than 4300 digits, with an error of its own
        raise ValueError(f"a number of {len(text)} digits")
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: of two values for one key, json keeps the last without a word
    (`"amount_cents": 100, "amount_cents": 990000`), and another reader of the same line may keep the first."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                shown = key if len(key) <= 60 and key.isprintable() else f"{key[:60]!r}"
                raise ValueError(f"{shown}: given twice in one object (which value is meant?)")
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
