"""What every command shares: the state (a `paybonus.hooks.CommandContext`), the two consoles, and small parsers.

No domain logic lives in the CLI: commands parse options, call the application facade (`paybonus.app`) and print.
"""

from __future__ import annotations

import difflib
import os
import re
import signal
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import click
from click.core import ParameterSource
from paybonus.hooks.types import SchemeDescriptor
from rich.console import Console

from ..app import Paybonus
from ..calendar import Period
from ..convert import FIRST_YEAR, LAST_YEAR
from ..errors import Interrupted, UserError
from ..host import PluginHost, load_plugins
from ..params import Parameters
from ..parsing import read_events_text

out = Console(soft_wrap=True)  # lines are never wrapped or cut; tables go through `output.table`
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

    def demo_ledger(self, option: str, value: str, force: bool, own: str) -> str:
        """Where a demo leaves its ledger: its own option (parameter `option`, its value `value`, named `own` in a
        message) when given, else the global --db when given on the command line (never $PAYBONUS_DB: a production
        ledger is no demo's), else `value`, the demo's default. `force` (replace a ledger holding other companies)
        is refused with the global --db, which an alias or a wrapper may point at the production ledger."""
        ctx = click.get_current_context()
        if ctx.get_parameter_source(option) is not ParameterSource.DEFAULT:
            return value
        if ctx.find_root().get_parameter_source("db") is not ParameterSource.COMMANDLINE:
            return value
        if force:
            raise UserError(
                "--force",
                f"replaces only a ledger {own} names, not the global --db: that one names the ledger you work on",
            )
        return self.db

    def echo(self, text: str, err: bool = False) -> None:
        (_stderr if err else out).print(text, markup=False)


pass_state = click.make_pass_decorator(State)


class SuggestingGroup(click.Group):
    """A command group whose unknown-command error suggests the closest commands ("Did you mean ...?")."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            close = difflib.get_close_matches(args[0], self.list_commands(ctx), n=3, cutoff=0.6)
            if not close or "Did you mean" in exc.message:  # click 8.2+ suggests by itself
                raise
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?"
            raise click.UsageError(exc.message + hint, ctx) from None


class WholeNumber(click.ParamType):
    """A whole-number option from `low` to `high`, written in ASCII digits only: click's INT reads '1_000',
    '+5', ' 5' and '٣' (Arabic-Indic three) as numbers too, a typo or a pasted figure taken for another."""

    name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):  # a default, or a caller's own value
            number = value
        elif isinstance(value, str) and re.fullmatch("[0-9]{1,9}", value, re.ASCII):
            number = int(value)
        else:
            self.fail(
                f"{str(value)[:40]!r}: a whole number {self.low}..{self.high}, in digits 0-9", param, ctx
            )
        if not self.low <= number <= self.high:
            self.fail(f"{number}: a whole number {self.low}..{self.high}", param, ctx)
        return number

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return f"{self.low}..{self.high}"

    def __repr__(self) -> str:
        return f"WholeNumber({self.low}, {self.high})"


def parse_date(text: str | None, where: str) -> date:
    """A YYYY-MM-DD option in ASCII digits, from 1900 to 2199 as dates in events (today when not given)."""
    if text is None:
        return date.today()
    try:
        if not re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", text, re.ASCII):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(where, f"expected a date YYYY-MM-DD, got {text!r}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise UserError(where, f"{text} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return day


def parse_period(text: str | None, where: str = "--period") -> Period | None:
    if text is None:
        return None
    try:
        p = Period.parse(text)
    except ValueError as exc:
        raise UserError(where, str(exc)) from None
    if not (p.start.year >= FIRST_YEAR and p.end.year <= LAST_YEAR):
        raise UserError(where, f"{text} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return p


def ledger_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --db option's callback: an empty ledger name (`--db ""`, `PAYBONUS_DB=`) is refused, never taken as a
    file named ''."""
    if value is not None and not value.strip():
        from_env = ctx.get_parameter_source(param.name or "") == click.core.ParameterSource.DEFAULT
        where = "PAYBONUS_DB" if from_env and "PAYBONUS_DB" in os.environ else "--db"
        raise UserError(where, "the ledger name is empty: give a file name or a postgresql:// URL")
    return value


def read_lines_text(path: str) -> str:
    """An events file, or standard input for '-', within its limits (`parsing.read_events_text`)."""
    return read_events_text(path)


@contextmanager
def private_file(path: Path) -> Iterator[TextIO]:
    """A text file (UTF-8) that holds personal data, to write in the `with` block: readable by its owner only
    (0600) and never left half-written. The block writes a temporary file beside `path` (`.NAME.XXXX.part`),
    renamed over it once the block ends; on any error or interruption (a bad row, a full disk, Ctrl-C, SIGTERM)
    the temporary file is removed and an existing `path` is left as it was (an interruption is `Interrupted`). A
    `path` that is a link is followed: the file it points to is replaced. A replaced file keeps its owner and
    group where the writer may give them (root: `_keep_owner`). A failure to write is a UserError naming `path`.
    A `path` that is no regular file (`/dev/stdout`, a named pipe, `>(gzip > x.gz)`) is written as it is:
    nothing can be renamed over it, and what its reader got cannot be taken back."""
    target = Path(os.path.realpath(path))
    if path.exists() and not target.is_file():
        try:
            with open(path, "w", encoding="utf-8") as f:
                yield f
        except OSError as exc:
            raise UserError(str(path), f"cannot write ({exc.strerror or exc})") from None
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{_cut(target.name, 100)}.", suffix=".part")
    except OSError as exc:
        raise UserError(str(path), f"cannot write ({exc.strerror or exc})") from None
    try:
        _keep_owner(fd, target)
        with _terminate_interrupts():
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise UserError(str(path), f"cannot write ({exc.strerror or exc})") from None
    except KeyboardInterrupt:
        _remove(tmp)
        kept = "the file there is left as it was" if target.exists() else "nothing was written"
        raise Interrupted(f"{path}: interrupted; {kept}") from None
    except BaseException:
        _remove(tmp)
        raise


@contextmanager
def _terminate_interrupts() -> Iterator[None]:
    """SIGTERM (a scheduler's timeout, `kill`) interrupts like Ctrl-C inside the block, so that what it cleans up
    on an interruption is cleaned up too (the main thread only: signals are delivered there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cut(name: str, size: int) -> str:
    """`name` cut to at most `size` bytes as the file system counts them (a name's limit, 255, is in bytes: 100
    euro signs are 300), never within a character."""
    while len(os.fsencode(name)) > size:
        name = name[:-1]
    return name


def _keep_owner(fd: int, target: Path) -> None:
    """The temporary file takes the owner and group of the file it will replace, as writing in place kept them
    (root replacing the export another account reads: still that account's, owner-only). Where that cannot be
    done (not root: a file of another user), the file is the writer's own."""
    try:
        st = os.stat(target)
    except OSError:  # a new file: the writer's (its group as the folder gives it: setgid)
        return
    with suppress(OSError):
        os.fchown(fd, st.st_uid, st.st_gid)


def _remove(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)


def any_value(value: Any) -> str:
    return "" if value is None else str(value)
