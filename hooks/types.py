"""Typed values of the plugin contract: what a scheme declares, receives and returns.

Plugins import these and the toolkit (`paybonus.money`, `calendar`, `params`, `formulas`, `distribution`,
`payroll`, `events`, `errors`, `convert`); the rest of paybonus is private. At run time this module imports only
the toolkit.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from attrs import field, frozen
from paybonus.calendar import Period

if TYPE_CHECKING:
    from paybonus.app import Paybonus
    from paybonus.events import Event
    from paybonus.params import Parameters
    from paybonus.payroll import Population


class Kind(enum.StrEnum):
    """What an entitlement is."""

    PRINCIPAL = "principal"
    CORRECTION = "correction"  # a delta that references the entitlement it corrects
    INTEREST = "interest"  # late-payment interest that references its principal (LAW I-40)
    # an advance paid during the period on a right not yet computed (LAW I-41): positive, references nothing;
    # the period's computation counts it as already recorded and records only the difference (a correction)
    ADVANCE = "advance"


class Status(enum.StrEnum):
    """Where an entitlement stands; it moves only as payments are recorded."""

    DUE = "due"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    PLACED = "placed"  # placed in the company savings plan (PEE)
    PAID_AND_PLACED = "paid_and_placed"


class DispatchStatus(enum.StrEnum):
    """The outcome of one scheme's run for one event."""

    COMPLETED = "completed"
    FAILED = "failed"  # a dead letter: `paybonus retry` runs it again


class Level(enum.StrEnum):
    """How serious a finding is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class SocialRegime(enum.StrEnum):
    """How what a scheme produces is treated socially."""

    EPARGNE_SALARIALE = (
        "epargne_salariale"  # not salary: CSG/CRDS on 100 %, forfait social (LAW 0.3, 0.4, I-4)
    )
    SALARY = "salary"  # ordinary salary: contributions computed by the payroll (LAW O-1, N-2)


@frozen
class DsnMapping:
    """Where the amount goes in the DSN: block and type code (DSN.md), e.g. S21.G00.54 type 12."""

    block: str
    code: str
    label: str = ""


@frozen
class Explanation:
    """Why an amount is what it is: inputs, parameters (with sources), steps and the LAW rule ids applied.

    Everything in it is JSON (str, int, bool, None, lists, dicts; Decimals as strings). The scheme's `recompute`
    must give the recorded amount back from this alone.
    """

    inputs: Mapping[str, Any] = field(factory=dict)
    parameters: Mapping[str, Any] = field(factory=dict)
    steps: Sequence[str] = ()
    rules: Sequence[str] = ()
    # what every beneficiary of a computation shares (the pool, its parameters, its steps): give the same object
    # to each draft and the ledger stores it once per computation; the whole explanation is `to_dict()`
    shared: Explanation | None = None

    def to_dict(self) -> dict[str, Any]:
        """The whole explanation: the shared part first, then this beneficiary's own (which wins on a key)."""
        if self.shared is None:
            return self.own_dict()
        return merge(self.shared.own_dict(), self.own_dict())

    def own_dict(self) -> dict[str, Any]:
        """This beneficiary's part only (the whole explanation when nothing is shared)."""
        return {
            "inputs": dict(self.inputs),
            "parameters": dict(self.parameters),
            "steps": list(self.steps),
            "rules": list(self.rules),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Explanation:
        return cls(
            d.get("inputs", {}), d.get("parameters", {}), tuple(d.get("steps", ())), tuple(d.get("rules", ()))
        )


def merge(shared: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """An explanation from its shared and own parts (dicts as `own_dict` gives them): inputs and parameters
    merged (own wins), the shared steps then the own ones, the rules of both in that order, each once."""
    rules = list(shared.get("rules", ()))
    rules += [r for r in own.get("rules", ()) if r not in rules]
    return {
        "inputs": {**shared.get("inputs", {}), **own.get("inputs", {})},
        "parameters": {**shared.get("parameters", {}), **own.get("parameters", {})},
        "steps": [*shared.get("steps", ()), *own.get("steps", ())],
        "rules": rules,
    }


@frozen
class EntitlementDraft:
    """What a scheme returns for one beneficiary; the core gives it an id, a status and records it."""

    employee: str
    period: Period
    amount_cents: int
    explanation: Explanation
    kind: Kind = Kind.PRINCIPAL
    due_date: date | None = None
    corrects: str | None = None  # id of the entitlement a correction or interest refers to
    # identity of the computation (default: the triggering event's id). The entitlement id is derived from
    # company, scheme, employee, period, kind and key, so one computation can never be recorded twice.
    key: str = ""
    dsn: DsnMapping | None = None  # overrides the scheme's mapping (e.g. a PMT paid as 026 vs 027)


class Drafts(Sequence[EntitlementDraft]):
    """Drafts built as they are read: `build(*item)` for each item, the same draft each time. A scheme of 200 000
    beneficiaries returns their numbers and lets the core build each explanation while recording it, instead of
    holding 200 000 explanations at once. `corrections` counts the drafts of kind correction without building them
    (the scheme knows it); `+` joins two, in order."""

    def __init__(
        self,
        build: Callable[..., EntitlementDraft] | None = None,
        items: Sequence[tuple[Any, ...]] = (),
        corrections: int = 0,
    ) -> None:
        self._parts: list[tuple[Callable[..., EntitlementDraft], Sequence[tuple[Any, ...]]]] = (
            [(build, items)] if build is not None and items else []
        )
        self.corrections = corrections

    @classmethod
    def of(cls, drafts: Sequence[EntitlementDraft]) -> Drafts:
        """Drafts already built, as `Drafts`."""
        out = cls(_same, [(d,) for d in drafts])
        out.corrections = sum(d.kind is Kind.CORRECTION for d in drafts)
        return out

    def __add__(self, other: Drafts) -> Drafts:
        out = Drafts(corrections=self.corrections + other.corrections)
        out._parts = [*self._parts, *other._parts]
        return out

    def __len__(self) -> int:
        return sum(len(items) for _, items in self._parts)

    @overload
    def __getitem__(self, i: int) -> EntitlementDraft: ...

    @overload
    def __getitem__(self, i: slice) -> list[EntitlementDraft]: ...

    def __getitem__(self, i: int | slice) -> EntitlementDraft | list[EntitlementDraft]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        for build, items in self._parts:
            if 0 <= i < len(items):
                return build(*items[i])
            i -= len(items)
        raise IndexError("draft index out of range")

    def __iter__(self) -> Iterator[EntitlementDraft]:
        for build, items in self._parts:
            for item in items:
                yield build(*item)


def _same(d: EntitlementDraft) -> EntitlementDraft:
    return d


@frozen
class Finding:
    """Something a scheme wants recorded with its dispatch: a warning citing a rule, an undistributed reliquat."""

    level: Level = field(converter=Level)
    rule: str  # LAW id, e.g. "O-2"
    message: str  # no names, salaries or per-person amounts: findings are logged
    employee: str | None = None


@frozen
class SchemeResult:
    """What a handler returns. `summary` holds aggregate figures (pool, undistributed) kept with the dispatch."""

    entitlements: Sequence[EntitlementDraft] = ()
    findings: Sequence[Finding] = ()
    summary: Mapping[str, Any] = field(factory=dict)


@frozen
class FiscalResult:
    """An exercise's net taxable profit (bénéfice net fiscal, L3324-1 1°) and turnover, in euros (V-1)."""

    exercise: str  # the year the exercise starts, e.g. "2024"
    benefice_net_fiscal: Decimal
    chiffre_affaires: Decimal


@frozen
class CompanyInfo:
    """The company as configured in its `company.toml` [company] table."""

    id: str
    name: str
    fiscal_year_start: str = "01-01"  # MM-DD
    headcount: int | None = None  # effectif annuel moyen (L130-1 CSS), for the forfait social (LAW 0.4)
    has_savings_plan: bool = False  # a PEE/PEI exists (default placement, LAW I-38)
    siren: str | None = None  # 9 digits, printed on individual statements
    address: tuple[str, ...] = ()  # postal address, one line each, printed on individual statements
    # effectif annuel moyen of each calendar year ("2024" = the average of 2024's monthly headcounts), for the
    # thresholds of L130-1 CSS with their five-year rule (LAW 0.4); `headcount` is the former single figure
    average_headcounts: dict[str, int] | None = None
    per_qualifying: bool = False  # a PER d'entreprise collectif meeting L137-16's default allocation (16 %)
    has_company_per: bool = False  # a PER d'entreprise exists: placements on request (`placed_per`)
    # the duty of companies of 11 to 49 employees to share value (loi 2023-1107 art. 5, docs/rules.md V-1):
    # their fiscal results, and the schemes other than intéressement applied for an exercise ({"2025": ["ppv"]})
    fiscal_results: list[FiscalResult] = field(factory=list)
    value_sharing: dict[str, list[Literal["participation", "abondement", "ppv"]]] = field(factory=dict)

    @property
    def company_per(self) -> bool:
        """A company PER exists: declared, or implied by `per_qualifying` (a PER that qualifies exists)."""
        return self.has_company_per or self.per_qualifying

    def headcount_reached(self, threshold: int, year: int, years: int) -> tuple[bool | None, dict[str, Any]]:
        """Whether a headcount threshold counts as reached in calendar `year` (L130-1 CSS): the average headcount
        of the `years` calendar years before it reached it each year (II: a threshold is crossed once reached
        five consecutive years; a year below starts the count again). Without `average_headcounts`, the single
        `headcount` decides (docs/rules.md D-10); with neither, None (unknown). Raises LookupError naming a
        missing year."""
        if self.average_headcounts is not None:
            wanted = [str(y) for y in range(year - years, year)]
            missing = [y for y in wanted if y not in self.average_headcounts]
            if missing:
                raise LookupError(
                    f"company.average_headcounts: {missing[0]} is needed for the {years}-year rule of L130-1 II "
                    f"CSS in {year} (give the years {wanted[0]} to {wanted[-1]})"
                )
            counts = {y: self.average_headcounts[y] for y in wanted}
            reached = all(v >= threshold for v in counts.values())
            return reached, {
                "threshold": threshold,
                "year": year,
                "average_headcounts": counts,
                "reached": reached,
                "rule": f"L130-1 II CSS: reached each of the {years} calendar years before",
            }
        if self.headcount is not None:
            reached = self.headcount >= threshold
            return reached, {
                "threshold": threshold,
                "headcount": self.headcount,
                "reached": reached,
                "rule": "a single headcount (company.headcount): the five-year rule is not applied (D-10)",
            }
        return None, {"threshold": threshold, "reached": None, "rule": "headcount unknown"}


@frozen
class RecordedEntitlement:
    """An entitlement as stored in the ledger (read back by schemes for caps and corrections)."""

    id: str
    scheme: str
    scheme_version: str
    company: str
    employee: str
    period: Period
    amount_cents: int
    kind: Kind
    status: Status
    event_id: str
    corrects: str | None
    due_date: date | None
    explanation: Explanation


class LedgerView(Protocol):
    """The ledger, read-only (backed by a read-only connection: nothing can be written or dropped through it)."""

    def company(self, company: str) -> CompanyInfo | None:
        """The company's [company] table as loaded, or None for an unknown company."""
        ...

    def events(self, company: str, type: str, employee: str | None = None) -> list[Event[Any]]:
        """A company's recorded events of one type (about one employee), in recording order."""
        ...

    def entitlements(
        self,
        company: str,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
    ) -> list[RecordedEntitlement]:
        """A company's recorded entitlements (whose period overlaps `period`), in recording order."""
        ...

    def iter_entitlements(
        self,
        company: str,
        scheme: str | None = None,
        period: Period | None = None,
        employee: str | None = None,
    ) -> Iterator[RecordedEntitlement]:
        """`entitlements`, one at a time as they are read (what the caller does not keep is not held)."""
        ...

    def configuration(self, company: str) -> dict[str, Any]:
        """The company's `company.toml` as loaded (its [company] and [schemes.*] tables; empty if unknown)."""
        ...

    def entitlement(self, entitlement_id: str) -> RecordedEntitlement | None: ...

    def paid_cents(self, entitlement_id: str) -> int:
        """What was paid or placed of an entitlement so far."""
        ...

    def payroll(self, company: str, period: Period) -> Population:
        """The payroll `paybonus load` stored: everyone under contract during `period`."""
        ...


class PayrollSource(Protocol):
    """Where a company's payroll comes from (the `paybonus_payroll_source` hook)."""

    def population(self, company: str, period: Period) -> Population:
        """Everyone under contract at some point of `period`, with their pay lines and absences."""
        ...


class SchemeContext(Protocol):
    """What a scheme may read while computing. It never writes: it returns values."""

    company: CompanyInfo
    config: Any  # the scheme's [schemes.<name>] table, structured into `config_type` (None if not declared)
    params: Parameters

    def population(self, period: Period) -> Population: ...

    def events(
        self, type: str, period: Period | None = None, employee: str | None = None
    ) -> list[Event[Any]]:
        """Recorded events of this company of `type`, in order (whose payload period equals `period`, and whose
        payload employee is `employee`, if given)."""
        ...

    def entitlements(
        self, scheme: str | None = None, period: Period | None = None, employee: str | None = None
    ) -> list[RecordedEntitlement]:
        """Recorded entitlements of this company (whose period overlaps `period`, if given)."""
        ...

    def iter_entitlements(
        self, scheme: str | None = None, period: Period | None = None, employee: str | None = None
    ) -> Iterator[RecordedEntitlement]:
        """`entitlements`, one at a time as they are read: a scheme that sums a whole population's recorded
        amounts keeps its sums, not 200 000 explanations."""
        ...


class StatementContext(SchemeContext, Protocol):
    """What a scheme reads to write the annex of an individual statement: a `SchemeContext`, and more."""

    figure_labels: Mapping[str, Mapping[str, str]]  # [statement.figures]: {name: {label, unit}}
    formula_wording: str | None  # [statement.formulas.<scheme>]: the agreement's own words for its formula

    def event(self, event_id: str) -> Event[Any] | None:
        """A recorded event of this company, by id."""
        ...

    def summary(self, entitlement: RecordedEntitlement) -> Mapping[str, Any]:
        """The aggregate summary the scheme returned with the computation that recorded `entitlement` ({} if
        none): the pool, the caps, the undistributed reliquat, as the dispatch kept them."""
        ...


# -- the annex of the individual statement (fiche distincte, LAW 1.9) -------------------------------------------


@frozen
class AnnexText:
    """A paragraph of the annex; `small`: small print (a note)."""

    text: str
    small: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "note" if self.small else "text", "text": self.text}


@frozen
class AnnexList:
    """A bulleted list."""

    items: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "list", "items": list(self.items)}


@frozen
class AnnexTable:
    """A table with its figures as printed: column titles, rows of text, and an optional bold total row.

    `widths`: each column's share of the page width in percent; `numeric`: the columns aligned right.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[int, ...]
    numeric: tuple[bool, ...] = ()
    total: tuple[str, ...] | None = None

    def __attrs_post_init__(self) -> None:
        n = len(self.columns)
        if (
            len(self.widths) != n
            or any(len(r) != n for r in self.rows)
            or (self.total and len(self.total) != n)
        ):
            raise ValueError("annex table: every row, the widths and the total have one entry per column")
        if self.numeric and len(self.numeric) != n:
            raise ValueError("annex table: numeric has one entry per column")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "table",
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "widths": list(self.widths),
            "numeric": list(self.numeric) or [False] * len(self.columns),
            "total": list(self.total) if self.total else None,
        }


AnnexBlock = AnnexText | AnnexList | AnnexTable


@frozen
class AnnexSection:
    """One part of the annex: a title, then paragraphs, lists and tables in order."""

    title: str
    blocks: tuple[AnnexBlock, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "blocks": [b.to_dict() for b in self.blocks]}


@frozen
class Annex:
    """The note recalling the essential rules of calculation and distribution (D3313-9), with the person's own
    figures. Text is French and already formatted (`paybonus.french`): it is printed as given."""

    sections: tuple[AnnexSection, ...]
    intro: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"intro": self.intro, "sections": [s.to_dict() for s in self.sections]}


class CommandContext(Protocol):
    """What a plugin's command receives as `click.get_current_context().obj`."""

    db: str  # the ledger the user named (--db)

    def params(self) -> Parameters:
        """The dated legal parameters in force (with the user's --params file)."""
        ...

    def schemes(self) -> Mapping[str, SchemeDescriptor]: ...

    def app(
        self,
        path: str | None = None,
        *,
        create: bool = False,
        fresh_for: Collection[str] = (),
        force: bool = False,
    ) -> AbstractContextManager[Paybonus]:
        """The application (`paybonus.Paybonus`) on the ledger (`path`, default --db), closed at the end of the
        `with` block. `create`: create it if missing; `fresh_for`: start from an empty ledger, replacing one that
        holds only these companies (any with `force`), as a demo does."""
        ...

    def demo_ledger(self, option: str, value: str, force: bool, own: str) -> str:
        """Where a demo command leaves its ledger: its own option `option` (value `value`, named `own` in the
        message) when given, else the global --db given on the command line, else its default; `force` with the
        global --db is refused (UserError)."""
        ...

    def echo(self, text: str, err: bool = False) -> None:
        """One line to standard output (or standard error), never interpreted as markup."""
        ...


Handler = Callable[["Event[Any]", SchemeContext], SchemeResult]


@frozen(kw_only=True)
class SchemeDescriptor:
    """A bonus scheme, as a plugin registers it: one handler per event type it wants."""

    name: str  # stable id, lower_snake_case: it is stored with every entitlement
    version: str  # bump when the computation changes; stored with every entitlement
    label: str  # human name, e.g. "Intéressement"
    handlers: Mapping[str, Handler] = field(factory=dict)  # event type -> handler (whole population, once)
    recompute: Callable[[Explanation], int]  # the amount back from a stored explanation (audit verify)
    dsn: DsnMapping
    social_regime: SocialRegime
    config_type: type | None = None  # attrs class of [schemes.<name>]; the scheme only runs where configured
    description: str = ""
    # compliance checks of a company's raw [schemes.<name>] table (`paybonus lint`): findings citing rule ids
    lint: Callable[[Mapping[str, Any], CompanyInfo, Parameters], list[Finding]] | None = None
    # schemes a company must also run for this one to be configured (e.g. intéressement de projet needs the
    # company's own intéressement agreement, LAW P-1); checked by `paybonus load`
    requires: tuple[str, ...] = ()
    # the annex of the individual statement (fiche distincte, D3313-9) of an épargne salariale scheme: given a
    # beneficiary's entitlements of one period (recording order) and a StatementContext, the rules of
    # calculation and distribution with the person's own figures; `paybonus statements` needs it
    statement_annex: Callable[[Sequence[RecordedEntitlement], StatementContext], Annex] | None = None
    # version 1 form, still accepted: one `compute` for every type in `handles` (prefer `handlers`)
    compute: Handler | None = None
    handles: frozenset[str] = frozenset()
    # event types about one employee whose handler reads and records only that employee's rights: the bus may
    # then compute several such events of one company, each of another employee, and record them together
    # (docs/performance.md); the results are those of one event at a time
    per_employee: frozenset[str] = frozenset()
    # the handlers read no other scheme's entitlements (the context refuses them): the bus may then compute the
    # scheme from the read its event's first scheme computed from, and record their dispatches (and a new event)
    # in one transaction; the results are those of one scheme at a time (docs/performance.md)
    reads_own_entitlements_only: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.handlers and self.compute is not None:
            warnings.warn(
                f"scheme {self.name!r}: `handles` with `compute` is deprecated; "
                "give `handlers={event_type: function}` instead",
                DeprecationWarning,
                stacklevel=3,
            )
            compute = self.compute
            object.__setattr__(self, "handlers", {t: compute for t in sorted(self.handles)})
        object.__setattr__(self, "handles", frozenset(self.handlers))
        if not self.per_employee <= self.handles:
            raise ValueError(f"scheme {self.name!r}: per_employee names event types it has no handler for")


# -- event sources: where `paybonus worker` takes its events (docs/deploy.md) ------------------------------------


class Verdict(enum.StrEnum):
    """What a source does with a message once the ledger has handled it."""

    ACK = "ack"  # recorded and committed (or a duplicate): acknowledge it
    RETRY = "retry"  # failed this time: deliver it again later (negative acknowledgement)
    DEAD = (
        "dead"  # failed on its last delivery, kept in the ledger's dead letters: forward it and acknowledge
    )


@frozen
class Delivery:
    """One message of an event source: events of one company as JSON lines (lines of an events.jsonl file)."""

    data: bytes
    subject: str  # where it came from: a NATS subject, a Kafka topic and partition, a queue
    message_id: str | None = None
    deliveries: int = 1  # how often this message was delivered, this time included
    pending: int = 0  # messages waiting behind it, when the source knows (the worker's lag)


class EventSink(Protocol):
    """What a source hands its messages to (the worker): it records each through the bus, in one commit, and
    says what to do with the message. A source acknowledges a message only after `handle` said ACK or DEAD."""

    worker_id: str
    max_deliveries: int  # the delivery at which a failing message becomes a dead letter

    def handle(self, delivery: Delivery) -> Verdict: ...

    def stopping(self) -> bool:
        """True once the worker was asked to stop (SIGTERM): take no new message."""
        ...

    def note(self, event: str, **fields: Any) -> None:
        """A structured log line of the source (stable name; never a payload)."""
        ...


@frozen
class EventSource:
    """An event source a plugin provides (`paybonus_event_sources`): NATS JetStream is built in.

    `consume(url, sink)` takes messages until `sink.stopping()`, hands each to `sink.handle` and settles it as
    the verdict says; messages of one company must reach `handle` one at a time and in order. `publish(url,
    messages)` sends (company, event id, event JSON) triples in order and returns how many it sent. `health(url)` returns what an
    orchestrator reads (raises on an unreachable broker)."""

    name: str
    url_schemes: tuple[str, ...]  # e.g. ("nats", "tls") for nats://host:4222
    consume: Callable[[str, EventSink], None]
    publish: Callable[[str, Sequence[tuple[str, str, bytes]]], int]
    health: Callable[[str], Mapping[str, Any]] | None = None
    description: str = ""
