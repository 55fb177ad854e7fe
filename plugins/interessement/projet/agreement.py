"""The project agreement (`project.toml`) shared by the participating companies, and the company side of it.

A project intéressement agreement (LAW P-1 to P-5) names the project, its calculation periods (which may differ
from the companies' fiscal years, P-3), its formula over project figures and the key that splits the project
pool between the participating entities: a whole company, one establishment or one work unit, each of which may
join while the project runs. Each company then distributes its entity's part with its own criteria, written in
its `company.toml` under `[schemes.interessement_projet]` (`Participation`).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from attrs import Factory, field, frozen
from paybonus import signing
from paybonus.calendar import Period, add_months, last_day_of_month
from paybonus.convert import converter, structure
from paybonus.distribution import Criterion
from paybonus.errors import UserError
from paybonus.events import canonical_json
from paybonus.formulas import Formula, FormulaError
from paybonus.params import Parameters
from paybonus.payroll import EmployeeRecord

from ..agreement import MAX_SENIORITY_MONTHS, SubPool, cap_rule, check_cap_keys

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
Scope = Literal["company", "establishment", "work_unit"]
SplitKey = Literal["headcount", "payroll", "fixed"]


def _check_id(_: Any, attribute: Any, value: str) -> None:
    if not _ID.match(value):
        raise ValueError(f"{attribute.name}: {value!r} must be 1-40 letters, digits or ._- (no spaces)")


@frozen
class Entity:
    """A participating entity: a whole company, one of its establishments or one of its work units."""

    id: str = field(validator=_check_id)
    company: str = field(validator=_check_id)
    scope: Scope = "company"
    unit: str | None = None  # the establishment or work unit code, as in the employees file
    joined_on: date | None = None  # default: the project's start
    left_on: date | None = None
    share: Decimal | None = None  # for the `fixed` split key

    def __attrs_post_init__(self) -> None:
        if self.scope == "company" and self.unit is not None:
            raise ValueError(f"entity {self.id}: unit only applies to an establishment or a work unit")
        if self.scope != "company" and not self.unit:
            raise ValueError(f'entity {self.id}: a {self.scope} entity names its unit (unit = "...")')
        if self.joined_on is not None and self.joined_on.day != 1:
            raise ValueError(f"entity {self.id}: joined_on {self.joined_on} must be the first day of a month")
        if self.left_on is not None and self.left_on != last_day_of_month(self.left_on):
            raise ValueError(f"entity {self.id}: left_on {self.left_on} must be the last day of a month")

    def includes(self, emp: EmployeeRecord) -> bool:
        """Whether the employee belongs to the entity (establishment or work unit of their latest contract)."""
        if self.scope == "company":
            return True
        return (emp.establishment if self.scope == "establishment" else emp.work_unit) == self.unit


@frozen
class ProjectAgreement:
    """The project agreement, validated when read: any mistake is refused with the field named."""

    id: str = field(validator=_check_id)
    name: str
    starts_on: date
    ends_on: date
    formula: str
    split: SplitKey
    entities: list[Entity]
    period_months: int = 12
    figures: list[str] = Factory(list)
    version: str = "1"  # the agreement's own version label (amendments), copied into every statement
    signatories: Literal["company", "group", "pei"] = "pei"  # P-2: how it was concluded
    signed_on: date | None = None
    parsed: Formula = field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.starts_on.day != 1:
            raise ValueError(f"starts_on: {self.starts_on} must be the first day of a month")
        if self.ends_on < self.starts_on or self.ends_on != last_day_of_month(self.ends_on):
            raise ValueError(f"ends_on: {self.ends_on} must be the last day of a month after starts_on")
        if self.period_months < 3:
            raise ValueError(
                f"period_months: {self.period_months}: a calculation period is at least 3 whole months "
                "(LAW I-2, applied to projects)"
            )
        if not self.entities:
            raise ValueError("entities: a project has at least one participating entity")
        seen: set[str] = set()
        for e in self.entities:
            if e.id in seen:
                raise ValueError(f"entities: {e.id!r} appears twice")
            seen.add(e.id)
            if e.joined_on is not None and not self.starts_on <= e.joined_on <= self.ends_on:
                raise ValueError(f"entity {e.id}: joined_on {e.joined_on} is outside the project")
            if e.left_on is not None and not (e.joined_on or self.starts_on) <= e.left_on <= self.ends_on:
                raise ValueError(f"entity {e.id}: left_on {e.left_on} is outside its participation")
            if (self.split == "fixed") != (e.share is not None):
                raise ValueError(
                    f"entity {e.id}: share is "
                    + (
                        "required with split = 'fixed'"
                        if self.split == "fixed"
                        else "only used with split = 'fixed'"
                    )
                )
            if e.share is not None and not Decimal(0) < e.share <= Decimal(1):
                raise ValueError(f"entity {e.id}: share {e.share} must be above 0 and at most 1")
        if self.split == "fixed":
            total = sum((e.share or Decimal(0) for e in self.entities), Decimal(0))
            if total != 1:
                raise ValueError(f"entities: the fixed shares add up to {total}, not 1 (100 %)")
        by_company: dict[str, list[Entity]] = {}
        for e in self.entities:
            by_company.setdefault(e.company, []).append(e)
        for company, ents in by_company.items():
            if len(ents) > 1 and any(e.scope == "company" for e in ents):
                raise ValueError(
                    f"entities: {company} takes part as a whole company and as a part of it; choose one"
                )
            units = [(e.scope, e.unit) for e in ents]
            if len(set(units)) != len(units):
                raise ValueError(f"entities: {company} names the same unit twice")
        for name in self.figures:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"figures: {name!r} must be lower_snake_case")
        try:
            object.__setattr__(self, "parsed", Formula.parse(self.formula, self.figures))
        except FormulaError as exc:
            raise ValueError(f"formula: {exc}") from None
        if self.parsed.prior_names:
            raise ValueError("formula: prior() and progress() are not available in a project formula")

    # -- derived values ------------------------------------------------------------------------------------

    def check_duration(self, params: Parameters) -> None:
        """At most 5 years (LAW P-3; a dated parameter)."""
        try:
            months = params.value("interessement_projet_max_months", self.starts_on)
        except LookupError as exc:
            raise ValueError(f"starts_on: {exc}") from None
        if self.ends_on >= add_months(self.starts_on, months):
            raise ValueError(
                f"ends_on: the project lasts longer than {months} months from {self.starts_on} (LAW P-3)"
            )

    def periods(self) -> list[Period]:
        """The calculation periods: `period_months` each from the start, the last one cut at the end (P-3)."""
        out, start = [], self.starts_on
        while start <= self.ends_on:
            end = min(self.ends_on, add_months(start, self.period_months) - timedelta(days=1))
            out.append(Period(start, end))
            start = end + timedelta(days=1)
        return out

    def window(self, entity: Entity, period: Period) -> Period | None:
        """The part of `period` during which `entity` takes part (None: not at all)."""
        return period.overlap(Period(entity.joined_on or self.starts_on, entity.left_on or self.ends_on))

    def entity(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = converter.unstructure(self)
        d.pop("parsed", None)
        return d

    def digest(self) -> str:
        """sha256 of the agreement's canonical form: names the exact formula and key a statement applied."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def read_project(data: dict[str, Any], params: Parameters, where: str) -> ProjectAgreement:
    """A project agreement from its parsed TOML/JSON form. Raises UserError naming the field."""
    try:
        agreement = structure(data, ProjectAgreement)
        agreement.check_duration(params)
    except ValueError as exc:
        raise UserError(where, str(exc)) from None
    return agreement


def load_project_toml(text: str, params: Parameters, where: str) -> ProjectAgreement:
    """`project.toml`: a [project] table and [[project.entities]] tables (docs/interessement-projet.md)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(where, f"not valid TOML ({exc})") from None
    extra = sorted(set(data) - {"project"})
    if extra or "project" not in data:
        raise UserError(where, f"expected one [project] table{f', not [{extra[0]}]' if extra else ''}")
    try:
        return read_project(data["project"], params, where)
    except UserError as exc:
        raise UserError(where, f"project.{exc.what}") from None


# -- the company side ---------------------------------------------------------------------------------------


@frozen
class Participation:
    """How a company distributes its entity's part of one project (its own criteria, P-1, I-21 to I-29)."""

    project: str = field(validator=_check_id)
    entity: str = field(validator=_check_id)
    distribution: list[SubPool]
    seniority_months: int = 0
    seniority_scope: Literal["company", "group"] = "company"  # docs/rules.md D-12
    reliquat: Literal["redistribute", "keep"] = "keep"
    part_time: Literal["no_proration", "prorate"] = "no_proration"
    cap_proration: Literal["days", "months", "none"] | None = None  # I-33, docs/rules.md D-4
    prorate_cap_by_presence: bool | None = None  # former name of cap_proration
    # the public key (base64, `paybonus audit public-key`) of the project's coordinator: statements must be
    # signed with it to be imported
    coordinator_key: str | None = None

    def __attrs_post_init__(self) -> None:
        check_cap_keys(self)
        if self.coordinator_key is not None:
            try:
                signing.parse_public(self.coordinator_key, "coordinator_key")
            except UserError:
                raise ValueError("coordinator_key: not an Ed25519 public key (base64 of 32 bytes)") from None
        if not 0 <= self.seniority_months <= MAX_SENIORITY_MONTHS:
            raise ValueError(
                f"seniority_months: {self.seniority_months} is over the legal maximum of 3 months (LAW I-13)"
            )
        crits = [s.criterion for s in self.distribution]
        if not crits or len(set(crits)) != len(crits):
            raise ValueError("distribution: one sub-pool per criterion, at least one (LAW I-21, I-22)")
        total = sum((s.share for s in self.distribution), Decimal(0))
        if total != 1:
            raise ValueError(f"distribution: the shares add up to {total}, not 1 (100 %)")

    @property
    def cap_rule(self) -> str:
        return cap_rule(self)

    def subpools(self) -> list[tuple[Criterion, int]]:
        return [(Criterion(s.criterion), int(s.share * 1_000_000)) for s in self.distribution]

    def subpool(self, criterion: Criterion) -> SubPool | None:
        return next((s for s in self.distribution if s.criterion == criterion), None)


@frozen
class ProjectSettings:
    """`[schemes.interessement_projet]`: the projects the company takes part in."""

    participations: list[Participation]
    # late interest on project amounts, as for classic intéressement (I-40, docs/rules.md D-1)
    late_interest_tmop: Literal["published", "per_semester"] = "published"

    def __attrs_post_init__(self) -> None:
        keys = [(p.project, p.entity) for p in self.participations]
        if len(set(keys)) != len(keys):
            raise ValueError("participations: the same project entity appears twice")

    def of(self, project: str) -> list[Participation]:
        return [p for p in self.participations if p.project == project]
