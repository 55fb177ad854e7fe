"""What every command shares: the state (a `paybonus.hooks.CommandContext`), the two consoles, and small parsers.

No domain logic lives in the CLI: commands parse options, call the application facade (`paybonus.app`) and print.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from paybonus.hooks.types import SchemeDescriptor
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..app import Paybonus
from ..calendar import Period
from ..errors import UserError
from ..host import PluginHost, load_plugins
from ..params import Parameters

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)
_stderr = err  # `State.echo(err=True)` shadows the name


class State:
    """What every command reads: the ledger path, the plugins (loaded once) and the legal parameters.

    Commands added by plugins receive it as `click.get_current_context().obj` (`paybonus.hooks.CommandContext`).
    """

    def __init__(
        self, db: str, strict_plugins: bool, params_file: str | None, host: PluginHost | None = None
    ) -> None:
        self.db = db
        self.strict_plugins = strict_plugins
        self.params_file = params_file
        self._host = host
        self._params: Parameters | None = None
        self._warned = False

    def host(self) -> PluginHost:
        if self._host is None:
            self._host = load_plugins(strict=self.strict_plugins)
        if not self._warned:
            self._warned = True
            for f in self._host.failures:
                err.print(f"warning: plugin {f.name} was not loaded ({f.error})", markup=False)
            for w in self._host.warnings:
                err.print(f"warning: {w}", markup=False)
        return self._host

    def params(self) -> Parameters:
        if self._params is None:
            p = Parameters.default()
            self._params = p.with_file(Path(self.params_file)) if self.params_file else p
        return self._params

    def schemes(self) -> Mapping[str, SchemeDescriptor]:
        return self.host().schemes

    @contextmanager
    def app(
        self,
        path: str | None = None,
        *,
        create: bool = False,
        fresh_for: Collection[str] = (),
        force: bool = False,
    ) -> Iterator[Paybonus]:
        """The application on the ledger (`path`, default --db), closed at the end of the `with` block. `create`:
        create it if missing; `fresh_for`: start from an empty ledger, replacing one that holds only these
        companies (any with `force`), as a demo does."""
        target = path or self.db
        kw: dict[str, Any] = {"host": self.host(), "params": self.params()}
        if fresh_for:
            app = Paybonus.fresh(target, fresh_for, force, **kw)
        else:
            app = Paybonus.create(target, **kw) if create else Paybonus.open(target, **kw)
        try:
            yield app
        finally:
            app.close()

    def echo(self, text: str, err: bool = False) -> None:
        (_stderr if err else out).print(text, markup=False)


pass_state = click.make_pass_decorator(State)


def parse_date(text: str | None, where: str) -> date:
    """A YYYY-MM-DD option (today when not given)."""
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(where, f"expected a date YYYY-MM-DD, got {text!r}") from None


def parse_period(text: str | None, where: str = "--period") -> Period | None:
    if text is None:
        return None
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise UserError(where, str(exc)) from None


@contextmanager
def progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error when it is a terminal and the work is long enough to show."""
    if total < 50 or not err.is_terminal:
        yield lambda _n: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as p:
        task = p.add_task(label, total=total)
        yield lambda n: p.update(task, completed=n)


def read_lines_text(path: str) -> str:
    """A text file, or standard input for '-'."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise UserError(path, f"cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(path, "not UTF-8 text") from None


def any_value(value: Any) -> str:
    return "" if value is None else str(value)
