"""The application facade: what the CLI, the demo and embedding products use.

    from paybonus import Paybonus

    with Paybonus.create("paybonus.db") as app:          # Paybonus.open(...) afterwards
        app.load_company("acme/")                        # company.toml, employees.csv, payroll/, absences.csv
        summary = app.publish("events.jsonl")            # or a list of Event values
        for e in app.entitlements(company="ACME"):
            print(e.employee, e.amount_cents, e.due_date)
        assert app.verify().ok

Errors a user can cause raise `paybonus.UserError` (one line: where and what) and write nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_origin

import attrs
from attrs import frozen
from paybonus.hooks.types import RecordedEntitlement

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from .statements import Statement  # fpdf and jinja2 load only when a statement is asked for

from . import audit, deadlines, export
from .bus import DispatchOutcome, EventBus, PublishOutcome
from .calendar import Period
from .checkpoint import Checkpoint
from .checkpoint import create as create_checkpoint
from .config import CompanyConfig, parse_company_toml, scheme_config, scheme_problems
from .convert import FIRST_YEAR, LAST_YEAR, converter, show
from .deadlines import Item as DeadlineItem
from .errors import NewerLedger, UserError
from .events import Event, ReadPair
from .guard import timeout_from_env
from .host import PluginHost, load_plugins
from .params import Parameters
from .parsing import read_events_text
from .payroll import Population
from .replay import ReplayReport, replay
from .sources import CompanyData, read_company_dir, statement_files, store_company
from .store import Head, Ledger, LedgerReader
from .store.sql import is_url, redacted


@frozen
class LoadSummary:
    company: str
    employees: int
    pay_lines: int
    absences: int
    schemes: tuple[str, ...]
    head: Head
    # (scheme, earlier events of its types) for each scheme this load added to a company that already recorded
    # such events: the scheme applies from now on; `paybonus retry --backfill` runs it on those on purpose
    added: tuple[tuple[str, int], ...] = ()


@frozen
class PublishSummary:
    """What a publish did: counts, each event's outcome, and the audit chain's head after it."""

    outcomes: tuple[PublishOutcome, ...]
    heads: dict[str, Head]  # the chain head of each company the events were about

    @property
    def counts(self) -> dict[str, int]:
        c = {"events": len(self.outcomes), "recorded": 0, "duplicates": 0, "completed": 0, "failed": 0}
        c["entitlements"] = 0
        for o in self.outcomes:
            c["duplicates" if o.duplicate else "recorded"] += 1
            for d in o.dispatches:
                c[str(d.status)] += 1
                c["entitlements"] += d.entitlements
        return c

    @property
    def failed(self) -> list[DispatchOutcome]:
        return [d for o in self.outcomes for d in o.dispatches if d.status == "failed"]


@frozen
class Explained:
    """An entitlement, why it is what it is, and its amount recomputed from that explanation."""

    entitlement: RecordedEntitlement
    row: dict[str, Any]  # every stored column (DSN codes, social regime, digest, ...), the whole explanation
    recomputed_cents: int | None  # None: the scheme that produced it is not installed

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.row,
            "recomputed_cents": self.recomputed_cents,
        }


@frozen
class Failure:
    """A failed dispatch (a dead letter): of the event `event_id` of `company`."""

    event_id: str
    scheme: str
    attempts: int
    error: str
    updated_at: str
    company: str = ""


class Paybonus:
    """A ledger, the plugins and the legal parameters, and everything done with them."""

    def __init__(
        self,
        ledger: Ledger,
        host: PluginHost | None = None,
        params: Parameters | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        timeout: float | None = -1.0,
    ) -> None:
        """`timeout`: seconds a scheme may compute for one dispatch (None: no limit; default:
        `PAYBONUS_DISPATCH_TIMEOUT` or 15 minutes)."""
        self.ledger = ledger
        self.host = host or load_plugins()
        self.params = params or Parameters.default()
        self._clock = clock
        self._timeout = timeout_from_env() if timeout == -1.0 else timeout
        self._bus: EventBus | None = None

    @classmethod
    def create(cls, path: str | Path, **kwargs: Any) -> Paybonus:
        """Create the ledger at `path` (or upgrade an older one) and open the application on it."""
        return cls(Ledger.create(path), **kwargs)

    @classmethod
    def open(cls, path: str | Path, **kwargs: Any) -> Paybonus:
        """Open the application on an existing ledger (a missing file is a UserError)."""
        return cls(Ledger.open(path), **kwargs)

    @classmethod
    def fresh(
        cls, path: str | Path, companies: Collection[str], force: bool = False, **kwargs: Any
    ) -> Paybonus:
        """A new, empty ledger at `path` for a demo or an example: an existing one is replaced only if it holds
        nothing but `companies` (or with `force`), so a real ledger is never overwritten by mistake. A SQLite file
        only: a PostgreSQL URL read as a path lost a slash and named its password in the error (review5)."""
        if is_url(path):
            raise UserError(
                redacted(str(path)),
                "a demo makes a SQLite ledger of its own: give a file path (a PostgreSQL ledger is never replaced)",
            )
        p = Path(path)
        if p.exists() and not force:
            try:
                with Ledger.open(p) as old:
                    others = sorted(set(old.companies.ids()) - set(companies))
            except NewerLedger as exc:  # not "not a paybonus ledger": one of a newer version (its own demo?)
                raise UserError(str(p), f"{exc.what}; or add --force to replace it") from None
            except UserError:
                others = ["(not a paybonus ledger)"]
            if others:
                raise UserError(
                    str(p),
                    f"holds {', '.join(others[:3])}{', ...' if len(others) > 3 else ''}: it will not be replaced "
                    "(choose another ledger, or add --force)",
                )
        for suffix in ("", "-wal", "-shm"):
            Path(str(p) + suffix).unlink(missing_ok=True)
        return cls.create(p, **kwargs)

    def close(self) -> None:
        if self._bus is not None:
            self._bus.close()
        self.ledger.close()

    def __enter__(self) -> Paybonus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def bus(self) -> EventBus:
        if self._bus is None:
            self._bus = EventBus(self.ledger, self.host, self.params, self._clock, self._timeout)
        return self._bus

    # -- inputs ------------------------------------------------------------------------------------------

    def load_company(self, company: str | Path | CompanyData) -> LoadSummary:
        """Store a company directory (docs/data-format.md), read and validated by `read_company` if given as a
        path, replacing its earlier load."""
        data = company if isinstance(company, CompanyData) else read_company(company, self.host)
        added = self._schemes_added(data.config)
        head = store_company(self.ledger, data)
        return LoadSummary(
            data.config.info.id,
            len({c[0] for c in data.contracts}),
            len(data.pay_lines),
            len(data.absences),
            tuple(data.config.schemes),
            head,
            added,
        )

    def _schemes_added(self, config: CompanyConfig) -> tuple[tuple[str, int], ...]:
        """The schemes `config` adds to a company that already recorded events of their types, with how many of
        those have no dispatch to it (a scheme removed, then added again, ran on the events of its first time)."""
        company = config.info.id
        toml = self.ledger.companies.toml(company)
        if toml is None:
            return ()
        try:
            before = set(parse_company_toml(toml, company).schemes)
        except (
            UserError
        ):  # the kept configuration no longer reads (an older plugin's fields): nothing to compare
            return ()
        added = []
        for name in config.schemes:
            scheme = self.host.schemes.get(name)
            if name not in before and scheme is not None:
                earlier = self.ledger.events.count_without(company, sorted(scheme.handlers), name)
                if earlier:
                    added.append((name, earlier))
        return tuple(added)

    def read_events(self, path: str | Path, text: str | None = None) -> list[tuple[str, Event[Any]]]:
        """Events of a JSON-lines file (or of `text`, named `path` in errors), as (where, event) pairs."""
        if text is None:
            text = _read_text(Path(path))
        return self.host.event_types.read_jsonl(str(path), text)

    def publish(
        self,
        events: str | Path | Sequence[Event[Any]] | Sequence[tuple[str, Event[Any]]],
        on_progress: Callable[[int], None] | None = None,
        on_admitted: Callable[[int], None] | None = None,
    ) -> PublishSummary:
        """Admit every event (nothing is written if one is refused: UserError), then record and dispatch them in
        order. `events`: a JSON-lines file, or Event values, or (where, event) pairs."""
        if isinstance(events, str | Path):
            pairs = self.read_events(events)
        else:
            if isinstance(events, bytes | dict) or not isinstance(events, Iterable):
                raise UserError(
                    "events", f"expected a file or a list of Event values, got {type(events).__name__}"
                )
            pairs = []
            for n, e in enumerate(events, 1):
                if isinstance(e, ReadPair):  # read by `read_events`: checked as its line was read
                    pairs.append(e)
                elif isinstance(e, tuple) and len(e) == 2 and isinstance(e[1], Event):
                    where = e[0] if isinstance(e[0], str) else f"event {e[1].id}"
                    pairs.append((where, self._as_read(e[1], where)))
                elif isinstance(e, Event):
                    pairs.append((f"event {e.id}", self._as_read(e)))
                else:  # a dict parsed from JSON: write it as a JSON line in a file, or build an Event
                    raise UserError(f"events[{n}]", f"expected an Event, got {type(e).__name__} {e!r:.40}")
        admitted = self.bus.admit(pairs)
        if on_admitted:
            on_admitted(len(admitted.events))
        outcomes = self.bus.publish_all(admitted, on_progress)
        companies = {e.company for e in admitted.events}
        return PublishSummary(tuple(outcomes), {c: self.ledger.audit.head(c) for c in sorted(companies)})

    def _as_read(self, event: Event[Any], where: str | None = None) -> Event[Any]:
        """An Event built in Python, checked as its JSON line would be (`EventTypes.from_dict`): nothing checks an
        attrs value's fields, so a naive `occurred_at`, a payload given as a dict or a field of the wrong type was
        recorded for good, and its scheme then failed on it (or recorded a timestamp no later read compares)."""
        where = where or f"event {event.id}"
        if not isinstance(event.occurred_at, datetime):
            raise UserError(
                where, f"occurred_at: expected a datetime, got {type(event.occurred_at).__name__}"
            )
        try:
            data = event.to_dict()
        except Exception:  # a value its field's type cannot write: None or a list for a dict ('items')
            raise UserError(where, _unwritable(event.payload)) from None
        try:
            return self.host.event_types.from_dict(data)
        except ValueError as exc:
            raise UserError(where, str(exc)) from None

    def retry(
        self,
        event_id: str | None = None,
        scheme: str | None = None,
        company: str | None = None,
        backfill: bool = False,
    ) -> list[DispatchOutcome]:
        """Run failed (and never-started) dispatches again, optionally only for one event, scheme or company. An
        event id is unique per company: `event_id` alone names that id in every company that recorded it
        (`check_filters` refuses an id several companies use unless the company is given). `backfill`: also run
        the schemes a later load added on the events recorded before it (not owed otherwise)."""
        return self.bus.retry(event_id, scheme, company, backfill)

    # -- reading -----------------------------------------------------------------------------------------

    @property
    def view(self) -> LedgerReader:
        """The ledger, read-only (`paybonus.hooks.LedgerView`)."""
        return self.bus.reader

    def check_filters(
        self, company: str | None = None, scheme: str | None = None, event: str | None = None
    ) -> None:
        """A filter naming a company, scheme or event this ledger does not know is a UserError (with the closest
        names), not an empty answer: a typo must not look like "nothing to pay". An event id that several
        companies recorded needs the company (`--company`)."""
        if company is not None:
            _known("--company", company, self.companies(), f"company in {self.ledger.path}")
        if scheme is not None:
            known = {*self.host.schemes, *self.ledger.entitlements.schemes()}
            _known("--scheme", scheme, sorted(known), "scheme installed or in this ledger")
        if event is not None:
            self.event_company(event, company)

    def _check_employee(self, employee: str | None, company: str | None) -> None:
        """An employee filter naming nobody of the ledger (or of `company`) is a UserError, not an empty answer."""
        if employee is None:
            return
        if not isinstance(employee, str) or not self.ledger.companies.knows_employee(employee, company):
            of = f"of company {company} " if company else ""
            raise UserError("--employee", f"no employee {employee!r:.80} {of}in {self.ledger.path}")

    def event_company(self, event_id: str, company: str | None = None) -> str:
        """The company whose event `event_id` is: `company` if it recorded that id, else the only company that
        did; a UserError if none did, or if several did and `company` is None (ids are unique per company)."""
        if company is not None:
            if self.ledger.events.digest(company, event_id) is None:
                raise UserError(
                    "--event", f"no event {event_id!r} of company {company!r} in {self.ledger.path}"
                )
            return company
        found = self.ledger.events.companies_of(event_id)
        if not found:
            raise UserError("--event", f"no event {event_id!r} in {self.ledger.path}")
        if len(found) > 1:
            listed = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
            raise UserError(
                "--event",
                f"event id {event_id!r} is used by {len(found)} companies ({listed}): name one with --company",
            )
        return found[0]

    def companies(self) -> list[str]:
        """Ids of the loaded companies."""
        return self.ledger.companies.ids()

    def company(self, company: str) -> CompanyConfig:
        """A loaded company's configuration (UserError if it is not loaded)."""
        config = self.bus.caches.company(company)
        if config is None:
            raise UserError("company", f"{company!r} is not loaded in {self.ledger.path}")
        return config

    def scheme_config(self, company: str, scheme: str) -> Any:
        """A company's configuration of a scheme, structured (None when the company does not run it)."""
        config = self.company(company)
        if scheme not in config.schemes or scheme not in self.host.schemes:
            return None
        return self.bus.caches.scheme_config(config, self.host.schemes[scheme])

    def population(self, company: str, period: Period) -> Population:
        """Everyone under contract during `period`, from the company's payroll source."""
        return self.host.payroll_source(self.company(company).info, self.view).population(company, period)

    def entitlements(
        self,
        company: str | None = None,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
    ) -> list[RecordedEntitlement]:
        """Recorded entitlements (whose period overlaps `period`), in recording order. An unknown company or scheme
        is a UserError."""
        self.check_filters(company, scheme)
        self._check_employee(employee, company)
        store = self.ledger.entitlements
        within = None if period is None else as_period(period, "--period")
        return [store.recorded(r) for r in store.rows(company, scheme, within, employee)]

    def entitlement_rows(
        self,
        company: str | None = None,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
    ) -> list[dict[str, Any]]:
        """The same, as stored: one dict per row with every column (DSN codes, social regime, digest, ...)."""
        self.check_filters(company, scheme)
        self._check_employee(employee, company)
        within = None if period is None else as_period(period, "--period")
        return [
            dict(zip(r.keys(), tuple(r), strict=True))
            for r in self.ledger.entitlements.rows(company, scheme, within, employee)
        ]

    def explain(self, entitlement_id: str) -> Explained:
        """An entitlement with its explanation, recomputed by its scheme."""
        row = self.ledger.entitlements.get(entitlement_id)
        if row is None:
            raise UserError("explain", f"no entitlement {entitlement_id!r} in {self.ledger.path}")
        ent = self.ledger.entitlements.recorded(row)
        scheme = self.host.schemes.get(ent.scheme)
        recomputed = scheme.recompute(ent.explanation) if scheme else None
        stored = dict(zip(row.keys(), tuple(row), strict=True))
        paid = self.ledger.payments.paid_cents(entitlement_id)
        return Explained(
            ent,
            {**stored, "paid_cents": paid, "explanation": ent.explanation.to_dict()},
            recomputed,
        )

    def failures(self) -> list[Failure]:
        """Failed dispatches (dead letters), in event order."""
        return [
            Failure(
                r["event_id"], r["scheme"], r["attempts"], r["error"] or "", r["updated_at"], r["company"]
            )
            for r in self.ledger.dispatches.failed()
        ]

    def verify(
        self,
        checkpoints: Sequence[Checkpoint] = (),
        expect_root: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> audit.Report:
        """Everything the chains vouch for, re-derived (docs/audit.md); `checkpoints` prove nothing before them
        was removed or rewritten."""
        return audit.verify(
            self.ledger,
            self.host.schemes,
            params=self.params,
            checkpoints=checkpoints,
            expect_root=expect_root,
            on_progress=on_progress,
        )

    def replay(self, on_progress: Callable[[int], None] | None = None) -> ReplayReport:
        """Every dispatch run again in a scratch ledger from its recorded inputs; differences are problems."""
        return replay(self.ledger, self.host, self._timeout, on_progress)

    def checkpoint(self, key: Ed25519PrivateKey) -> Checkpoint:
        """A signed checkpoint of every company's chain head, to keep outside the ledger."""
        return create_checkpoint(self.ledger.audit.ledger_id(), self.ledger.audit.heads(), key)

    def export(
        self,
        as_of: date,
        company: str | None = None,
        scheme: str | None = None,
        payroll_month: str | None = None,
    ) -> list[dict[str, Any]]:
        """Entitlements for the payroll, one row each with their DSN codes (docs/export.md). A `payroll_month`
        that is not YYYY-MM is a UserError, not an empty export (a typo must not look like "nothing to pay")."""
        return list(self.export_rows(as_of, company, scheme, payroll_month))

    def export_rows(
        self,
        as_of: date,
        company: str | None = None,
        scheme: str | None = None,
        payroll_month: str | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """`export`, streamed: the filters are checked now (UserError), the rows read from the ledger as they are
        consumed, while the application is open (a payroll of 200 000 people is never held at once). A caller that
        stops before the end closes it (`contextlib.closing`) before the application."""
        self.check_filters(company, scheme)
        parse_month(payroll_month, "--payroll-month")
        day = as_day(as_of, "--as-of")
        return export.rows(self.ledger, self.params, day, company, scheme, payroll_month)

    def deadlines(self, as_of: date, within_days: int = 30, company: str | None = None) -> list[DeadlineItem]:
        """What is overdue, falls due within `within_days`, choice windows closing, Caisse des dépôts transfers."""
        self.check_filters(company)
        return deadlines.scan(self.ledger, as_day(as_of, "--as-of"), within_days, self.params, company)

    def deadline_items(
        self, as_of: date, within_days: int = 30, company: str | None = None
    ) -> Generator[DeadlineItem, None, None]:
        """`deadlines`, streamed: the filters are checked now (UserError), the items read from the ledger (one
        view of it) as they are consumed, while the application is open. A caller that stops before the end
        closes it (`contextlib.closing`) before the application."""
        self.check_filters(company)
        day = as_day(as_of, "--as-of")
        params = self.params
        params.value("cdc_transfer_after_years", day)  # a date outside the parameters' range: refused now

        def items() -> Generator[DeadlineItem, None, None]:
            with self.ledger.one_view():
                yield from deadlines.each(self.ledger, day, within_days, params, company)

        return items()

    def check_deadlines(self, as_of: date, company: str | None = None) -> list[DeadlineItem]:
        """The daily job: record and log, once, what has just become overdue or due for transfer (of `company`
        only, when given)."""
        self.check_filters(company)
        return deadlines.check(self.ledger, as_day(as_of, "--as-of"), self.params, company)

    def statements(
        self,
        company: str,
        period: Period,
        scheme: str,
        *,
        issued_on: date,
        channel: str,
        employee: str | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> list[Statement]:
        """The individual statement (fiche distincte, D3313-9) of each beneficiary of an épargne salariale
        scheme's calculation period, or of one `employee`. `issued_on` and `channel` are the date and the way the
        statements reach the employees, printed and recorded as given (`Statement.issued_events()`). A
        salary-type scheme has no statement (UserError: its amount goes on the payslip); so does a filter that
        leaves nobody, named in the error. With `key` (the ledger's signing key) each seal is a signature of the
        statement's content that anyone can check with the public key."""
        from .statements import StatementBuilder, build_statements

        period, day = as_period(period, "--period"), as_day(issued_on, "--issued-on")
        builder = StatementBuilder(self.ledger, self.bus.reader, self.bus.caches, self.host, self.params)
        return build_statements(builder, company, period, scheme, day, channel, employee, key)

    def verify_statement(self, path: str | Path, trusted: Ed25519PublicKey | None = None) -> tuple[bool, str]:
        """Check a statement file (HTML or PDF): its signature (against `trusted` when given), its content, what
        it prints, and the ledger entries it shows: (ok, one line)."""
        from .statements import verify_file

        return verify_file(self.ledger, Path(path), trusted)

    def summary(self) -> list[tuple[str, str, int, int, int]]:
        """(scheme, kind, entitlements, total cents, employees) over the ledger."""
        return self.ledger.entitlements.summary()

    def heads(self) -> dict[str, Head]:
        """Each company's chain head."""
        return self.ledger.audit.heads()


def read_company(
    directory: str | Path, host: PluginHost, on_file: Callable[[Path], None] | None = None
) -> CompanyData:
    """Read and validate a company directory against the installed schemes (UserError naming file, line, key).
    `on_file` is called with each file as it is read (for a progress bar)."""
    data = read_company_dir(Path(directory), on_file)
    for refusal in config_refusals(Path(directory), data.config, host, dict(data.files)):
        raise refusal
    return data


def config_refusals(
    directory: Path, config: CompanyConfig, host: PluginHost, files: dict[str, bytes] | None = None
) -> Iterator[UserError]:
    """What `load` refuses in a company's configuration once company.toml is read, in this order: a scheme that
    is not installed or lacks the schemes it requires, a scheme's table that is not of the scheme's type, a
    statement logo or template that cannot be read or rendered. `load` stops at the first, `lint` lists them all.
    `files`: the statement files already read (`read_company_dir`), else they are read here."""
    where = str(directory / "company.toml")
    for problem in scheme_problems(config, host.schemes):
        yield UserError(where, problem)
    for name in config.schemes:
        if name in host.schemes:
            try:
                scheme_config(config, host.schemes[name], where)
            except UserError as exc:
                yield exc
    if files is None:
        try:
            files = dict(statement_files(directory, config, Path(where)))
        except UserError as exc:
            yield exc
            return
    template_dir = config.statement.template_dir
    if template_dir is not None:  # tried once on a made-up statement, so that statements never fail later
        from .statements import TEMPLATE, check_company_template

        try:
            check_company_template(config, files, str(directory / template_dir / TEMPLATE))
        except UserError as exc:
            yield exc


def parse_month(text: str | None, where: str) -> str | None:
    """A payroll month YYYY-MM (ASCII digits, a month 01-12, a year 1900 to 2199), else a UserError."""
    if text is not None and not (
        isinstance(text, str) and re.fullmatch("[0-9]{4}-(0[1-9]|1[0-2])", text, re.ASCII)
    ):
        raise UserError(where, f"expected a month YYYY-MM, got {text!r:.40}")
    if text is not None and not FIRST_YEAR <= int(text[:4]) <= LAST_YEAR:
        raise UserError(where, f"{text} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return text


def as_period(value: object, where: str) -> Period:
    """A period given to the library: a `Period`, or its text ("2025", "2025-12", "2025-01-01..2025-12-31")."""
    if isinstance(value, Period):
        return value
    if isinstance(value, str):
        try:
            return Period.parse(value)
        except ValueError as exc:
            raise UserError(where, str(exc)) from None
    raise UserError(
        where, f"expected a Period or its text such as '2025', got {type(value).__name__} {value!r:.40}"
    )


def as_day(value: object, where: str) -> date:
    """A day given to the library: a `date` (a `datetime` counts as its own day); anything else, such as the text
    "2026-06-01", is a UserError rather than a TypeError deep in a computation."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise UserError(where, f"expected a datetime.date, got {type(value).__name__} {value!r:.40}")


def _known(where: str, name: str, known: Sequence[str], what: str) -> None:
    if not isinstance(name, str):
        raise UserError(where, f"expected a text, got {type(name).__name__} {name!r:.40}")
    if name in known:
        return
    lower = {k.lower(): k for k in known}
    close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)]
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known[:10]) or 'none'})"
    raise UserError(where, f"no {what} is named {name!r}{hint}")


def _read_text(path: Path) -> str:
    return read_events_text(path)


def _unwritable(payload: Any) -> str:
    """Why a payload built in Python cannot be written as its JSON fields, naming the first field whose value its
    declared type cannot write (`figures` a list for a `dict[str, Decimal]`), as one line."""
    cls = type(payload)
    try:
        fields = attrs.fields(attrs.resolve_types(cls)) if attrs.has(cls) else ()
    except Exception:  # annotations that do not resolve: the field cannot be named
        fields = ()
    for f in fields:
        value = getattr(payload, f.name)
        try:
            converter.unstructure(value, unstructure_as=f.type)
        except Exception:
            plain = isinstance(f.type, type) and get_origin(f.type) is None
            wanted = f.type.__name__ if plain else str(f.type).replace("decimal.", "")
            return f"payload.{f.name}: expected {wanted}, got {show(value)[:40]}"
    return f"payload: a {cls.__name__} cannot be written as an event's JSON fields"
