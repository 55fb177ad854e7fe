"""The project statement: the project pool and its split between entities, as one hashed, self-checking file.

The coordinator computes it (`paybonus project statement`) from the project's figures and, for a headcount or
payroll key, each entity's measure over the period (`paybonus project measure`, or the shared ledger). Each
company imports it (`paybonus project import`), which records it as a `project_results_published` event. On
import the content hash is checked, then the whole split is computed again from the statement's own agreement,
figures and measures: a statement whose numbers do not follow from its inputs is refused like a tampered one.

It holds per-entity totals only (measures and pools), never a person (privacy: each company sees its own staff).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from attrs import frozen
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paybonus import signing
from paybonus.calendar import Period
from paybonus.convert import converter, not_an_integer, structure
from paybonus.errors import UserError
from paybonus.events import canonical_json
from paybonus.formulas import FormulaError
from paybonus.money import allocate
from paybonus.params import Parameters
from paybonus.payroll import Population

from .agreement import Entity, ProjectAgreement, read_project

STATEMENT_FORMAT = "paybonus-project-statement/1"
MEASURES_FORMAT = "paybonus-project-measures/1"
SHARE_SCALE = 1_000_000  # a fixed share as an integer weight (millionths), times the days of participation


@frozen
class Measure:
    """An entity's size over its window of a period: employee-days under contract, gross payroll (cents).

    Only the one the agreement's key uses leaves the company (the other is None in files and statements).
    """

    entity: str
    company: str
    window: Period | None
    headcount_days: int | None
    payroll_cents: int | None

    def key(self, split: str) -> Measure:
        """This measure with only what the `split` key uses."""
        return Measure(
            self.entity,
            self.company,
            self.window,
            self.headcount_days if split == "headcount" else None,
            self.payroll_cents if split == "payroll" else None,
        )


def measure(
    agreement: ProjectAgreement, entity: Entity, period: Period, population: Callable[[Period], Population]
) -> Measure:
    """Measure one entity from its company's payroll (only aggregates leave the company)."""
    window = agreement.window(entity, period)
    if window is None:
        return Measure(entity.id, entity.company, None, 0, 0)
    members = [e for e in population(window).employees if entity.includes(e)]
    days = sum(e.employed_days(window) for e in members)
    payroll = sum(p.gross_cents for e in members for p in e.pay_in(window))  # AP indemnities excluded (I-19)
    return Measure(entity.id, entity.company, window, days, payroll)


def measures_file(agreement: ProjectAgreement, period: Period, measures: list[Measure]) -> dict[str, Any]:
    return {
        "format": MEASURES_FORMAT,
        "project": agreement.id,
        "agreement_digest": agreement.digest(),
        "period": converter.unstructure(period),
        "measures": [converter.unstructure(m.key(agreement.split)) for m in measures],
    }


def read_measures(data: Any, agreement: ProjectAgreement, period: Period) -> list[Measure]:
    """Measures from a `paybonus project measure` file; raises ValueError naming the field."""
    if not isinstance(data, dict) or data.get("format") != MEASURES_FORMAT:
        raise ValueError(f"format: not a measures file (expected {MEASURES_FORMAT!r})")
    if data.get("project") != agreement.id:
        raise ValueError(f"project: {data.get('project')!r}, not {agreement.id!r}")
    if data.get("agreement_digest") != agreement.digest():
        raise ValueError("agreement_digest: measured under another version of the project agreement")
    if structure(data.get("period"), Period) != period:
        raise ValueError(f"period: {data.get('period')}, not {period}")
    out = []
    for i, raw in enumerate(data.get("measures") or []):
        try:
            out.append(structure(raw, Measure))
        except ValueError as exc:
            raise ValueError(f"measures[{i}].{exc}") from None
    return out


# -- building -------------------------------------------------------------------------------------------------


def build(
    agreement: ProjectAgreement,
    period: Period,
    figures: Mapping[str, Decimal],
    measures: Mapping[str, Measure],
    issued_at: datetime,
) -> dict[str, Any]:
    """The statement for one calculation period, hash included. Raises ValueError naming what is wrong."""
    if period not in agreement.periods():
        periods = ", ".join(p.key for p in agreement.periods())
        raise ValueError(f"period: {period} is not a calculation period of {agreement.id} ({periods})")
    unknown = sorted(set(figures) - set(agreement.figures))
    if unknown:
        raise ValueError(f"figures: {unknown[0]!r} is not a figure of the project agreement")
    try:
        value, trace = agreement.parsed.evaluate(dict(figures))
    except FormulaError as exc:
        raise ValueError(f"formula: {exc}") from None
    pool = max(0, int((value * 100).to_integral_value(ROUND_DOWN)))  # never below zero (I-3)
    rows, weights = [], []
    for e in sorted(agreement.entities, key=lambda x: x.id):
        window = agreement.window(e, period)
        row: dict[str, Any] = {"entity": e.id, "company": e.company, "scope": e.scope, "unit": e.unit}
        row["window"] = converter.unstructure(window) if window else None
        weight = 0
        if window is not None:
            if agreement.split == "fixed":
                assert e.share is not None
                row["share"] = str(e.share)
                weight = int(e.share * SHARE_SCALE) * window.days
            else:
                m = measures.get(e.id)
                if m is None:
                    raise ValueError(f"entity {e.id}: no measure for {period} (its company sends one)")
                if m.window != window or m.company != e.company:
                    raise ValueError(
                        f"entity {e.id}: the measure covers {m.window}, the entity takes part {window}"
                    )
                field = f"{agreement.split}_days" if agreement.split == "headcount" else "payroll_cents"
                size = m.headcount_days if agreement.split == "headcount" else m.payroll_cents
                if size is None or size < 0:
                    raise ValueError(f"entity {e.id}: the measure has no {field}")
                row[field] = weight = size
        row["weight"] = weight
        rows.append(row)
        weights.append(weight)
    pools = allocate(pool, weights)  # largest remainder, ties to the lowest entity id (LAW 8)
    for row, cents in zip(rows, pools, strict=True):
        row["pool_cents"] = cents
    body = {
        "format": STATEMENT_FORMAT,
        "project": agreement.id,
        "agreement": agreement.to_dict(),
        "agreement_version": agreement.version,
        "agreement_digest": agreement.digest(),
        "period": converter.unstructure(period),
        "issued_at": issued_at.isoformat(),
        "figures": {k: str(v) for k, v in sorted(figures.items())},
        "formula": agreement.formula,
        "value": str(value),
        "trace": trace,
        "pool_cents": pool,
        "split": agreement.split,
        "entities": rows,
        "undistributed_cents": pool - sum(pools),
    }
    return {**body, "hash": content_hash(body)}


def content_hash(statement: Mapping[str, Any]) -> str:
    body = {k: v for k, v in statement.items() if k not in ("hash", "signature")}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def sign(statement: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The statement signed by its issuer (the project's coordinator): Ed25519 over its content hash."""
    return {
        **statement,
        "signature": {
            "public_key": signing.public_text(key),
            "value": signing.sign(key, statement["hash"].encode()),
        },
    }


def check_signature(data: Mapping[str, Any], trusted: str | None) -> str | None:
    """Check the issuer's signature; `trusted`: the coordinator's public key a company configured, which the
    statement must then be signed with. Returns the signer's key id (None: unsigned). Raises ValueError."""
    sig = data.get("signature")
    if sig is None:
        if trusted:
            raise ValueError(
                "signature: the statement is not signed, and this company only accepts statements signed by "
                f"its coordinator (key {signing.key_id(trusted)})"
            )
        return None
    if (
        not isinstance(sig, dict)
        or not isinstance(sig.get("public_key"), str)
        or not isinstance(sig.get("value"), str)
    ):
        raise ValueError("signature: malformed (expected public_key and value)")
    if trusted and sig["public_key"] != trusted:
        raise ValueError(
            f"signature: signed with key {signing.key_id(sig['public_key'])}, not by the coordinator's key "
            f"{signing.key_id(trusted)} this company trusts"
        )
    try:
        public = signing.parse_public(sig["public_key"], "signature.public_key")
    except UserError as exc:
        raise ValueError(f"signature.public_key: {exc.what}") from None
    if not signing.verify(public, str(data.get("hash", "")).encode(), sig["value"]):
        raise ValueError("signature: does not match the statement's content (changed after it was signed)")
    return signing.key_id(sig["public_key"])


# -- checking -------------------------------------------------------------------------------------------------


@frozen
class Part:
    """One entity's line of a verified statement."""

    entity: str
    company: str
    window: Period | None
    weight: int
    pool_cents: int


@frozen
class Statement:
    """A verified statement."""

    data: dict[str, Any]
    agreement: ProjectAgreement
    period: Period
    parts: tuple[Part, ...]

    @property
    def hash(self) -> str:
        return str(self.data["hash"])

    @property
    def project(self) -> str:
        return self.agreement.id

    def part(self, entity: str) -> Part | None:
        return next((p for p in self.parts if p.entity == entity), None)


def verify(data: Any, params: Parameters) -> Statement:
    """Check a statement: its content hash, then every number against its own inputs. Raises ValueError."""
    if not isinstance(data, dict) or data.get("format") != STATEMENT_FORMAT:
        raise ValueError(f"format: not a project statement (expected {STATEMENT_FORMAT!r})")
    if not isinstance(data.get("hash"), str) or content_hash(data) != data["hash"]:
        raise ValueError(
            "hash: the content does not match its hash (the statement was changed after it was issued)"
        )
    raw = data.get("agreement")
    if not isinstance(raw, dict):
        raise ValueError("agreement: missing")
    try:
        agreement = read_project(raw, params, "agreement")
    except UserError as exc:
        raise ValueError(f"agreement.{exc.what}") from None
    if data.get("agreement_digest") != agreement.digest() or data.get("project") != agreement.id:
        raise ValueError("agreement_digest: does not name the agreement the statement carries")
    try:
        period = structure(data.get("period"), Period)
        issued = structure(data.get("issued_at"), datetime)
        figures = structure(data.get("figures"), dict[str, Decimal])
        measures = {
            r["entity"]: Measure(
                r["entity"],
                r["company"],
                structure(r["window"], Period),
                _count(r.get("headcount_days")),
                _count(r.get("payroll_cents")),
            )
            for r in data.get("entities", [])
            if isinstance(r, dict) and r.get("window") and ("headcount_days" in r or "payroll_cents" in r)
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the statement's inputs cannot be read ({exc})") from None
    again = build(agreement, period, figures, measures, issued)
    if "signature" in data:
        again["signature"] = data["signature"]  # checked apart: `check_signature`
    wrong = _integer_written_otherwise(again, data)
    if wrong is not None:
        raise ValueError(wrong)
    if again != data:
        for mine, theirs in zip(again["entities"], data.get("entities", []), strict=False):
            if mine != theirs:
                raise ValueError(
                    f"entities: {mine['entity']}: the stated part does not follow from the statement's figures "
                    f"and measures (expected pool {mine['pool_cents']} cents)"
                )
        raise ValueError("the stated pool does not follow from the statement's formula and figures")
    parts = tuple(
        Part(
            r["entity"],
            r["company"],
            structure(r["window"], Period) if r["window"] else None,
            r["weight"],
            r["pool_cents"],
        )
        for r in data["entities"]
    )
    return Statement(data, agreement, period, parts)


def _integer_written_otherwise(built: Any, data: Any, path: str = "") -> str | None:
    """The line refusing the first value of `data` written otherwise (100.00, 1e2, true) where the statement built
    again holds an integer (cents, a weight): `==` takes Decimal('100.00') for 100 and True for 1, and the refusal
    would only say that the pool does not follow."""
    todo = [(built, data, path)]
    while todo:
        b, d, where = todo.pop(0)
        if type(b) is int:
            wrong = not_an_integer(where, d)
            if wrong is not None:
                return wrong
        elif isinstance(b, dict) and isinstance(d, dict):
            todo += [(b[k], d[k], f"{where}.{k}" if where else k) for k in b if k in d]
        elif isinstance(b, list) and isinstance(d, list):
            todo += [(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(b, d, strict=False))]
    return None


def _count(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected a whole number, got {v!r}")
    return v
