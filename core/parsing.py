"""The one way text comes in: decoding, byte-order mark, line ends, TOML and JSON with depth and size limits.

Every reader of a user's file goes through here, so that a byte-order mark, CRLF line ends and the Unicode
separators U+2028, U+2029 and U+0085 are treated the same everywhere: a leading BOM is dropped, a line ends at
LF (a CR before it is dropped), and the Unicode separators are ordinary characters inside a value. Nesting is
limited (`MAX_DEPTH`) and so is the size of a file (`MAX_FILE_BYTES`): a hostile file is refused with one line,
never a RecursionError. Errors are `ValueError`s with a short message; callers add the file and line.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

MAX_DEPTH = 32  # nested tables, arrays or objects: the deepest real document is 5 levels
MAX_FILE_BYTES = 64 * 1024 * 1024  # a company directory's file, an events file, a DSN file
MAX_LINE_CHARS = 16 * 1024 * 1024  # one event (the objective results of 200 000 employees take 1.3 MB)
MAX_TEXT_CHARS = 10_000  # one string value (a name, a formula, a paragraph of wording)


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


def load_json(text: str) -> Any:
    """Parse one JSON value, numbers with a decimal point as exact `Decimal`s; `ValueError` for bad JSON, nesting
    deeper than `MAX_DEPTH` or a number of more than 400 digits."""
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"longer than {MAX_LINE_CHARS // (1024 * 1024)} MiB")

    def parse(t: str) -> Any:
        try:
            return json.loads(t, parse_float=Decimal, parse_int=_int, parse_constant=_constant)
        except json.JSONDecodeError as exc:
            raise ValueError(f"malformed JSON ({exc.msg} at column {exc.colno})") from None

    return _within_depth(text, parse)


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


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
