"""How commands print, following datasette, sqlite-utils and gh.

Every listing takes `--format table|json|jsonl|csv|tsv` (and `--nl`, newline-delimited JSON, as sqlite-utils):
`json` is one JSON array, `jsonl` one object per line, CSV and TSV have a header row and write booleans as
true/false. A table is drawn on a terminal; piped, it is plain text in aligned columns (no box drawing, no fixed
width). Amounts are integer cents in every machine format and French euros, right-aligned, in tables and text,
always through `money.format_euros(..., french=True)` (`euros` here).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, TypeVar

import click
from attrs import frozen
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..errors import UserError
from ..money import format_euros

FORMATS = ("table", "json", "jsonl", "csv", "tsv")
F = TypeVar("F", bound=Callable[..., Any])

# plurals that are not the word plus "s"
_PLURALS = {"entry": "entries", "entity": "entities", "dispatch": "dispatches", "company": "companies"}


def plural(n: int, word: str) -> str:
    """'1 statement', '2 statements', '0 entries'."""
    head, _, last = word.rpartition(" ")
    many = _PLURALS.get(last, last + "s")
    return f"{n} {word if n == 1 else (head + ' ' if head else '') + many}"


def euros(cents: int | None) -> str:
    """The one way amounts are shown to a person: French euros, '1 234,56 €' ('' for no amount)."""
    return "" if cents is None else format_euros(int(cents), french=True)


@frozen
class Column:
    """A table column: the row key it shows, its header, and how (money: cents shown in euros, right-aligned)."""

    key: str
    header: str | None = None
    money: bool = False
    right: bool = False
    value: Callable[[Mapping[str, Any]], Any] | None = None  # computed from the row instead of row[key]

    def cell(self, row: Mapping[str, Any]) -> str:
        v = self.value(row) if self.value else row.get(self.key)
        if self.money:
            return euros(v)
        return "" if v is None else str(v)

    @property
    def justify(self) -> str:
        return "right" if self.money or self.right else "left"


_FORMAT_HELP = {
    "table": "table (plain text when piped)",
    "json": "json (one array)",
    "jsonl": "jsonl (one object per line)",
}


def format_options(default: str = "table", formats: Sequence[str] = FORMATS) -> Callable[[F], F]:
    """`--format` and `--nl` on a listing command; the command receives `fmt` ('jsonl' when --nl is given)."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, fmt: str, nl: bool, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            explicit = ctx.get_parameter_source("fmt") != click.core.ParameterSource.DEFAULT
            if nl and explicit and fmt != "jsonl":
                raise UserError(
                    "--nl", f"is --format jsonl, which contradicts --format {fmt}: give one of them"
                )
            return f(*args, fmt="jsonl" if nl else fmt, **kwargs)

        wrapper = click.option(
            "--nl",
            is_flag=True,
            help="Newline-delimited JSON, one object per line (same as --format jsonl; refused with another "
            "--format).",
        )(wrapper)
        wrapper = click.option(
            "--format",
            "fmt",
            type=click.Choice(list(formats)),
            default=default,
            show_default=True,
            help=", ".join(_FORMAT_HELP.get(f, f) for f in formats) + ".",
        )(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def _machine(value: Any) -> Any:
    """A value for CSV/TSV: booleans as true/false, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def render(
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    fields: Sequence[str],
    columns: Sequence[Column],
    *,
    summary: str | None = None,
    title: str | None = None,
) -> None:
    """Print `rows`: `fields` in the machine formats, as they come (a generator is never held whole), `columns` in
    a table (then the summary line)."""
    if fmt in MACHINE_FORMATS:
        write_machine(rows, fmt, fields)
    else:
        table(columns, [[c.cell(r) for c in columns] for r in rows], title=title)
        if summary:
            click.echo(summary)


MACHINE_FORMATS = ("json", "jsonl", "csv", "tsv")
CHUNK_CHARS = 1 << 16  # what `write_machine` gathers before each write


def machine_text(rows: Iterable[Mapping[str, Any]], fmt: str, fields: Sequence[str]) -> Iterator[str]:
    """`rows` in a machine format, as pieces read from `rows` one at a time (a header, a row, the JSON array's
    closing bracket), each ending where a row ends: `json` is `[`, the objects separated by `,\\n ` and `]\\n`;
    `jsonl` one object a line; CSV and TSV a header row, then a row each."""
    if fmt == "json":
        sep = "["
        for r in rows:
            yield sep + json.dumps({f: r.get(f) for f in fields}, ensure_ascii=False)
            sep = ",\n "
        yield "[]\n" if sep == "[" else "]\n"
    elif fmt == "jsonl":
        for r in rows:
            yield json.dumps({f: r.get(f) for f in fields}, ensure_ascii=False) + "\n"
    elif fmt in ("csv", "tsv"):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        w.writerow(fields)
        yield buf.getvalue()
        for r in rows:
            buf.seek(0)
            buf.truncate()
            w.writerow([_machine(r.get(f)) for f in fields])
            yield buf.getvalue()
    else:  # pragma: no cover - callers pass a machine format
        raise ValueError(fmt)


def write_machine(
    rows: Iterable[Mapping[str, Any]], fmt: str, fields: Sequence[str], file: IO[str] | None = None
) -> int:
    """Write `rows` in a machine format to `file` (standard output by default) as they come, a few dozen KiB at a
    time, never the whole text at once; returns the number of rows written. The characters are those of the
    whole text printed with one `click.echo` (ANSI sequences stripped off a file or a pipe the same way: no
    sequence spans the end of a row)."""
    count = 0
    pending: list[str] = []
    size = 0

    def counted() -> Iterator[Mapping[str, Any]]:
        nonlocal count
        for r in rows:
            yield r
            count += 1

    for piece in machine_text(counted(), fmt, fields):
        pending.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            click.echo("".join(pending), file=file, nl=False)
            pending, size = [], 0
    if pending:
        click.echo("".join(pending), file=file, nl=False)
    return count


def table(columns: Sequence[Column], cells: Sequence[Sequence[str]], *, title: str | None = None) -> None:
    """A rich table on a terminal; plain aligned text when standard output is piped."""
    if stdout_is_terminal():
        t = Table(*[c.header or c.key for c in columns], title=title)
        for col, c in zip(t.columns, columns, strict=True):
            col.justify = c.justify  # type: ignore[assignment]
        for row in cells:
            t.add_row(*[Text(v) for v in row])
        Console(soft_wrap=True).print(t)
        return
    headers = [c.header or c.key for c in columns]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    if title:
        click.echo(title)
    for line in [headers, *cells]:
        parts = [
            v.rjust(w) if c.justify == "right" else v.ljust(w)
            for v, w, c in zip(line, widths, columns, strict=True)
        ]
        click.echo("  ".join(parts).rstrip())


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def stderr_console() -> Console:
    return Console(stderr=True, soft_wrap=True)


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error from the first step, when it is a terminal (nothing when piped).
    Yields `advance(done)`, the number of steps done so far."""
    err = stderr_console()
    if not err.is_terminal:
        yield lambda _n: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as p:
        task = p.add_task(label, total=total)
        yield lambda n: p.update(task, completed=n)
