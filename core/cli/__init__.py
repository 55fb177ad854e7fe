"""The `paybonus` command. Exit codes: 0 done, 1 verification failed, 2 user error (one line, nothing written).

Commands are registered here, explicitly and in the order of the work: set up, publish, read, follow up, tools.
Plugins add theirs through the `paybonus_register_commands` hook.
"""

from __future__ import annotations

import os
import sqlite3
import sys

import click

from .. import logs
from .._version import __version__
from ..errors import (
    Interrupted,
    MissingParameterValue,
    PaybonusError,
    PluginError,
    UserError,
    VerificationFailed,
)
from ..guard import timeout_from_env
from ..host import load_plugins
from ..store.ledger import synchronous_from_env
from ..store.sql import redacted
from . import audit, browse, followup, ledger, reading, server, tools
from .base import State, err, ledger_name

HOST_KEY = "paybonus.host"


class PaybonusGroup(click.Group):
    """The built-in commands in workflow order, and those plugins add (loaded only when asked for)."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        host = ctx.meta.get(HOST_KEY)
        if host is None:
            logs.configure(
                ctx.params.get("log_format") or "console", ctx.params.get("log_level") or "warning"
            )
            host = ctx.meta[HOST_KEY] = load_plugins(strict=bool(ctx.params.get("strict_plugins")))
        for name in host.commands:
            if name in self.commands:
                raise PluginError(f"a plugin adds the command {name!r}, which is a built-in command")
        return dict(host.commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *sorted(self._plugin_commands(ctx))]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._plugin_commands(ctx).get(cmd_name)


@click.group(
    cls=PaybonusGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="paybonus")
@click.option(
    "--db",
    default=lambda: os.environ.get("PAYBONUS_DB", "paybonus.db"),
    show_default="paybonus.db or $PAYBONUS_DB",
    callback=ledger_name,
    help="Ledger file.",
)
@click.option(
    "--log-format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
    help="Logs on standard error: console for a person, json (one object per line) for ops.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="The least serious log events shown (docs/operations.md lists them).",
)
@click.option("--strict-plugins", is_flag=True, help="A plugin that fails to load is fatal (exit 2).")
@click.option(
    "--params",
    "params_file",
    type=click.Path(dir_okay=False),
    help="Extra dated legal parameters (TOML, docs/reference.md), e.g. newer TMOP values.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    db: str,
    log_format: str,
    log_level: str,
    strict_plugins: bool,
    params_file: str | None,
) -> None:
    """paybonus: French employee bonuses, computed from events and recorded in a verifiable ledger.

    \b
    A first session:
      paybonus init
      paybonus load acme/
      paybonus publish acme/events.jsonl
      paybonus entitlements --company ACME
      paybonus export --payroll-month 2026-05 --out payroll-2026-05.csv

    Exit codes: 0 done, 1 a check failed (audit, lint, a failed dispatch), 2 a user error (one line on
    standard error, nothing written). Docs: docs/cli.md, docs/reference.md, docs/library.md.
    """
    logs.configure(log_format, log_level)
    timeout_from_env()  # the environment's settings are checked before any ledger opens
    synchronous_from_env()
    ctx.obj = State(db, strict_plugins, params_file, ctx.meta.get(HOST_KEY))


for command in (
    ledger.init,
    ledger.load,
    ledger.publish,
    reading.entitlements,
    reading.explain,
    browse.browse,
    followup.deadlines,
    followup.export,
    followup.statements,
    followup.notice,
    audit.audit_group,
    ledger.failures,
    ledger.retry,
    tools.lint_cmd,
    tools.dsn_cmd,
    reading.plugins,
    tools.demo,
    tools.bench,
    server.worker,
    server.health,
    server.migrate,
    server.grant,
):
    cli.add_command(command)

_BREAKS = {0x7F, 0x85, 0x2028, 0x2029}  # besides C0 controls, what str.splitlines() breaks a line on
MAX_ERROR = 400


def _error(message: str) -> None:
    """One line on stderr: control and line-break characters are shown escaped, a huge value is cut, and no URL's
    password or token is printed."""
    line = "".join(
        f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) in _BREAKS else ch for ch in redacted(message)
    )
    if len(line) > MAX_ERROR:
        line = line[:MAX_ERROR] + "... (cut)"
    err.print(f"error: {line}", markup=False, soft_wrap=True)


def usage_line(exc: click.ClickException) -> str:
    """click's usage error as one line like the CLI's others: `<command> <option>: <what> (see paybonus <command>
    -h)`, "Did you mean" suggestions kept."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path.partition(" ")[2] if ctx is not None else ""
    see = f" (see paybonus {command + ' ' if command else ''}-h)" if isinstance(exc, click.UsageError) else ""
    param = getattr(exc, "param", None)
    where = getattr(exc, "param_hint", None)
    if where is None and param is not None:
        where = (
            (param.opts[0] if param.opts else param.human_readable_name)
            if isinstance(param, click.Option)
            else param.human_readable_name
        )
    elif where is not None and not isinstance(where, str):
        where = " / ".join(where)
    if isinstance(exc, click.exceptions.NoSuchOption | click.exceptions.BadOptionUsage):
        where = exc.option_name
    if isinstance(exc, click.exceptions.MissingParameter):
        what = "required, not given"
    elif isinstance(exc, click.BadParameter):
        what = exc.message
    else:
        what = exc.format_message()
    what = what.rstrip(".") if isinstance(exc, click.BadParameter) else what
    if what[:2].istitle():  # click's sentences ("File 'x' does not exist") read as the CLI's other lines
        what = what[0].lower() + what[1:]
    head = " ".join(x for x in (command, where) if x)
    return f"{head}: {what}{see}" if head else f"{what}{see}"


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps errors to exit codes. Any mistake is one line on stderr (click's usage errors too,
    "Did you mean" kept); never a traceback for a user's mistake."""
    try:
        cli.main(args=argv, prog_name="paybonus", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        _error("aborted")
        return 2
    except click.exceptions.NoArgsIsHelpError as exc:  # a group without its command: its help
        exc.show()
        return 2
    except click.ClickException as exc:
        _error(usage_line(exc))
        return 2
    except (UserError, PluginError, Interrupted) as exc:
        _error(str(exc))
        return 2
    except MissingParameterValue as exc:  # a date before the legal parameters begin, say
        _error(str(exc))
        return 2
    except VerificationFailed as exc:
        _error(str(exc))
        return 1
    except MemoryError:  # inputs are bounded (parsing.read_bounded): a machine or ulimit too small, a fault
        _error(
            "out of memory: give the command more memory (ulimit -v) or a smaller input; nothing was written"
        )
        return 1
    except sqlite3.Error as exc:  # a full disk, a read-only or locked file: a fault, not the user's input
        _error(
            f"the ledger could not be written or read ({exc}): what was recorded before stays valid; once the "
            "cause is fixed, run the command again (`paybonus publish` resumes a file, `paybonus retry` the "
            "dispatches)"
        )
        return 1
    except OSError as exc:
        _error(f"{exc.filename or 'a file'}: {exc.strerror or exc}")
        return 1
    except PaybonusError as exc:  # pragma: no cover - an unexpected internal condition: still one line
        _error(str(exc))
        return 2
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != "42501":  # PostgreSQL's insufficient_privilege (psycopg)
            raise
        first = (str(exc).strip().splitlines() or ["permission denied"])[0]
        _error(
            f"PostgreSQL refused this role ({first}): run this command as a role that `paybonus grant` made a "
            "writer (docs/deploy.md)"
        )
        return 2
    return 0


__all__ = ["State", "cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
