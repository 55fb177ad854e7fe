"""Hook specifications. Every hook here has a section in docs/plugins.md (a test checks it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .markers import hookspec

if TYPE_CHECKING:
    import click
    from paybonus.events import Event, EventType

    from .types import CompanyInfo, EventSource, LedgerView, PayrollSource, SchemeDescriptor


@hookspec
def paybonus_register_schemes() -> list[SchemeDescriptor]:  # type: ignore[empty-body]
    """Return the bonus schemes this plugin provides, as `SchemeDescriptor` values.

    Called once when plugins load; the host calls each plugin's implementation itself, so a broken plugin is
    reported by name. Two schemes with one name are an error.
    """


@hookspec
def paybonus_register_event_types() -> list[EventType]:  # type: ignore[empty-body]
    """Return extra event types (`paybonus.events.EventType`) this plugin understands.

    An event type may carry a `check(event, ledger)` that refuses, with a ValueError naming the field, an event
    that cannot be recorded; `ledger` is a `LedgerView`.
    """


@hookspec(firstresult=True)
def paybonus_payroll_source(company: CompanyInfo, ledger: LedgerView) -> PayrollSource | None:
    """Return where the payroll data of `company` comes from, or None to leave it to the next plugin.

    The default (registered last, so called last) reads the ledger's own tables, filled by `paybonus load`.
    `ledger` is a read-only view of the ledger (`LedgerView`); `ledger.payroll(company, period)` is what
    `paybonus load` stored.
    """


@hookspec
def paybonus_register_commands() -> list[click.Command]:  # type: ignore[empty-body]
    """Return extra `paybonus` sub-commands (click commands or groups), e.g. `paybonus project ...`.

    Loaded only when such a command is asked for (or the command list is shown). A command receives a
    `CommandContext` as `click.get_current_context().obj`: the ledger path, the parameters, the schemes and the
    application facade. A name already taken by a built-in command, or by another plugin, is an error.
    """


@hookspec
def paybonus_entitlements_recorded(event: Event[Any], scheme: str, entitlement_ids: list[str]) -> None:
    """Told after a scheme's entitlements for an event were committed (e.g. to push them to the payroll).

    Called outside the transaction; an exception here is logged and does not undo anything.
    """


@hookspec
def paybonus_event_sources() -> list[EventSource]:  # type: ignore[empty-body]
    """Return the event sources this plugin provides (`EventSource`: a name, the URL schemes it serves, and its
    consume, publish and health functions), e.g. Kafka or RabbitMQ.

    `paybonus worker --source URL` and `paybonus publish --to URL` pick the source by the URL's scheme; NATS
    JetStream (nats://) is built in. A source hands each message to an `EventSink` and acknowledges it only once
    the sink said so (after the commit).
    """
