"""Compliance checks of an intéressement agreement (`paybonus lint`), each finding citing its rule.

Errors: what the law forbids (a flat percentage of salaries, turnover, value added or EBE; a formula that can
never give zero; seniority over 3 months; presence-at-a-date conditions; a period that is not a whole number of
months of at least 3; signature after the half-period deadline; deposit late). Warnings: what an inspector would
question (a formula that would have paid in each of the last three exercises: the aléa test).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from paybonus.calendar import Period, add_months
from paybonus.convert import structure
from paybonus.formulas import Formula, FormulaError
from paybonus.hooks import CompanyInfo, Finding
from paybonus.params import Parameters

from .agreement import COMPUTED_FIGURES, MAX_SENIORITY_MONTHS, MIN_PERIOD_MONTHS, STANDARD_FIGURES, Agreement
from .shared import DEPRECATED_CAP_KEY

# bases on which a flat percentage is not an intéressement: "formules interdites" of the seed (I-1, I-3)
FORBIDDEN_FLAT_BASES = {
    "payroll": "salaries",
    "frais_personnel": "salaries",
    "chiffre_affaires": "turnover",
    "valeur_ajoutee": "value added",
    "ebe": "EBE",
}
PROBES = (
    Decimal(-(10**9)),
    Decimal(-(10**6)),
    Decimal(-1),
    Decimal(0),
    Decimal(1000),
    Decimal(10**6),
    Decimal(10**9),
)
T = "schemes.interessement"


def lint(raw: Mapping[str, Any], company: CompanyInfo, params: Parameters) -> list[Finding]:
    out: list[Finding] = []

    def err(rule: str, msg: str) -> None:
        out.append(Finding("error", rule, f"{T}.{msg}"))

    def warn(rule: str, msg: str) -> None:
        out.append(Finding("warning", rule, f"{T}.{msg}"))

    for key, kind in (("figures", list), ("presence_conditions", list), ("history", list), ("formula", str)):
        if key in raw and not isinstance(raw[key], kind):
            err("config", f"{key}: expected a {'list' if kind is list else 'string'}, got {raw[key]!r}")
            return out
    pm = raw.get("period_months", 12)
    if not isinstance(pm, int) or pm < MIN_PERIOD_MONTHS or 12 % pm:
        err(
            "I-2",
            f"period_months: {pm!r} is not a whole number of months of at least 3 dividing the exercise",
        )
    if "prorate_cap_by_presence" in raw:
        warn("I-33", f"prorate_cap_by_presence: {DEPRECATED_CAP_KEY}")
    sen = raw.get("seniority_months", 0)
    if isinstance(sen, int) and sen > MAX_SENIORITY_MONTHS:
        err("I-13", f"seniority_months: {sen} months is over the legal maximum of 3")
    for cond in raw.get("presence_conditions", []) or []:
        err(
            "I-15",
            f"presence_conditions: {cond!r}: a condition of presence at a date (opening, closing, payment) is unlawful",
        )

    figures = {*STANDARD_FIGURES, *COMPUTED_FIGURES, *(raw.get("figures") or [])}
    formula: Formula | None = None
    try:
        formula = Formula.parse(raw.get("formula", ""), figures)
    except FormulaError as exc:
        err("I-1", f"formula: {exc}")
    if formula is not None:
        out += _formula_findings(formula, raw, err, warn)

    agreement: Agreement | None = None
    with contextlib.suppress(ValueError):  # what load refuses: `paybonus lint` reports it (rule "config")
        agreement = structure(dict(raw), Agreement)
    if agreement is not None:
        _dates(agreement, company, params, err)
        _duration(agreement, params, err, warn, out)
        _setup(agreement, company, params, err, out)
        _spouses(agreement, params, err)
    return out


def _duration(ag: Agreement, params: Parameters, err: Any, warn: Any, out: list[Finding]) -> None:
    """One to five years (dated: three years until 2020, one to three until August 2022) and tacit renewal (I-7)."""
    on = ag.signed_on or ag.starts_on
    if ag.ends_on is None:
        out.append(
            Finding("info", "I-7", f"{T}.ends_on: state the agreement's duration (one to five years, I-7)")
        )
        return
    months = _months_between(ag.starts_on, ag.ends_on)
    try:
        low = params.value("interessement_min_duration_months", on)
        high = params.value("interessement_max_duration_months", on)
    except LookupError:  # before the dated parameters: not checked
        return
    if months < low:
        err("I-7", f"ends_on: the agreement lasts less than {low} months ({months}); L3312-5 I at {on}")
    elif months > high:
        err("I-7", f"ends_on: the agreement lasts more than {high} months ({months}); L3312-5 I at {on}")
    req = ag.renegotiation_requested_on
    if req is not None:
        try:
            window = params.value("interessement_renegotiation_window_months", req)
        except LookupError:
            return
        if not ag.tacit_renewal:
            warn(
                "I-7",
                "renegotiation_requested_on: the agreement has no tacit renewal (tacit_renewal = false)",
            )
        elif all(  # the request stops a renewal only in the months before an expiry
            not add_months(end + timedelta(days=1), -window) <= req <= end
            for end in (ag.term_end(n) for n in range(200))
            if end <= add_months(req, window + 1)
        ):
            warn(
                "I-7",
                f"renegotiation_requested_on: {req} is not within the {window} months before an expiry: the "
                "agreement is renewed anyway",
            )


def _months_between(start: date, end: date) -> int:
    """Calendar months from `start` to `end` included, a started month counting as a month."""
    after = end + timedelta(days=1)
    months = (after.year - start.year) * 12 + after.month - start.month
    return months + (1 if add_months(start, months) < after else 0)


def _setup(ag: Agreement, company: CompanyInfo, params: Parameters, err: Any, out: list[Finding]) -> None:
    """How the agreement was set up (I-7, L3312-5): a two-thirds ratification, a unilateral decision only below
    50 employees, not covered by an approved branch agreement, and after a failed negotiation with a record of
    disagreement and the CSE consulted 15 days before the deposit."""
    if ag.setup is None:
        out.append(
            Finding(
                "info",
                "I-7",
                f"{T}.setup: say how the agreement was set up (collective_agreement, union_agreement, "
                "cse_agreement, ratification, unilateral or branch_adhesion) to have it checked",
            )
        )
        return
    if ag.setup == "ratification" and ag.ratification is not None:
        r = ag.ratification
        if 3 * r.votes_for < 2 * r.staff:
            err(
                "I-7",
                f"ratification: {r.votes_for} of {r.staff} is less than two thirds of the staff (L3312-5)",
            )
    if ag.setup != "unilateral":
        return
    on = ag.signed_on or ag.starts_on
    try:
        limit = params.value("interessement_unilateral_max_headcount", on)
    except LookupError:
        err("I-7", f"setup: no unilateral decision was possible at {on} (L3312-5 II, from 19 June 2020)")
        return
    try:
        years = params.value("headcount_threshold_years", on)
        reached, _ = company.headcount_reached(limit, on.year, years)
    except LookupError as exc:
        err("I-7", f"setup: {exc}")
        return
    if reached is None:
        out.append(
            Finding("info", "I-7", f"{T}.setup: give company.average_headcounts to check the {limit} limit")
        )
    elif reached:
        err(
            "I-7", f"setup: a unilateral decision needs fewer than {limit} employees (L3312-5 II, L130-1 CSS)"
        )
    if ag.covered_by_approved_branch_agreement:
        err("I-7", "setup: a company covered by an approved branch agreement applies it (L3312-5 II)")
    if ag.unilateral_ground == "failed_negotiation":
        if ag.disagreement_record_on is None:
            err(
                "I-7",
                "disagreement_record_on: a unilateral decision after failed negotiation needs the record of "
                "disagreement (procès-verbal de désaccord, L3312-5 II 2°)",
            )
        if ag.cse_consulted_on is None:
            err("I-7", "cse_consulted_on: the CSE is consulted on the draft (L3312-5 II 2°)")
        elif ag.deposited_on is not None:
            try:
                days = params.value("interessement_unilateral_cse_notice_days", ag.deposited_on)
            except LookupError:
                return
            if ag.deposited_on - ag.cse_consulted_on < timedelta(days=days):
                err(
                    "I-7",
                    f"cse_consulted_on: {ag.cse_consulted_on} is less than {days} days before the deposit "
                    f"({ag.deposited_on}, L3312-5 II 2°)",
                )


def _spouses(ag: Agreement, params: Parameters, err: Any) -> None:
    """A spouse's base is at most a quarter of the PASS (L3314-6, I-24)."""
    for h in ag.company_heads:
        if h.spouse_base_cents is None:
            continue
        on = ag.starts_on
        try:
            limit = params.value("pass_annual", on) * params.value("interessement_spouse_base_pass_rate", on)
        except LookupError:
            continue
        if h.spouse_base_cents > limit:
            err("I-24", f"company_heads: {h.id}: spouse_base is above a quarter of the PASS (L3314-6)")


def _formula_findings(formula: Formula, raw: Mapping[str, Any], err: Any, warn: Any) -> list[Finding]:
    names = sorted(formula.names | formula.prior_names)
    # a flat percentage of one base (I-1, I-3): f(x) = k.x with k > 0 for every x
    if len(names) == 1 and names[0] in FORBIDDEN_FLAT_BASES and not formula.prior_names:
        ratios = set()
        for x in (Decimal(1000), Decimal(123457), Decimal(10**9)):
            v = _value(formula, {names[0]: x})
            ratios.add(None if v is None else v / x)
        if len(ratios) == 1 and None not in ratios and next(iter(ratios)) > 0:  # type: ignore[operator]
            err(
                "I-1",
                f"formula: a flat percentage of {FORBIDDEN_FLAT_BASES[names[0]]} is not an intéressement "
                "(it is guaranteed, not aléatoire: formules interdites)",
            )
    # can it ever give zero? (I-3)
    if not _can_be_zero(formula):
        err("I-3", "formula: it can never give zero: the intéressement must be aléatoire (I-3)")
    # aléa test on the last three exercises (I-1, I-3)
    history = raw.get("history") or []
    if len(history) < 3:
        return [
            Finding(
                "info", "I-1", f"{T}.history: give the figures of the last three exercises to test the aléa"
            )
        ]
    paid = 0
    for i, h in enumerate(history):
        _check_history(h, f"{T}.history[{i}]")
    for h in history[-3:]:
        figs = {k: structure(v, Decimal) for k, v in (h.get("figures") or {}).items()}
        v = _value(formula, figs)
        if v is not None and v > 0:
            paid += 1
    if paid == 3:
        warn("I-1", "formula: it would have paid in each of the last three exercises: its aléa is doubtful")
    return []


def _check_history(h: Any, where: str) -> None:
    """One exercise of `history`: a table whose `figures` are numbers (ValueError naming the key otherwise)."""
    if not isinstance(h, Mapping) or not isinstance(h.get("figures", {}), Mapping):
        raise ValueError(f'{where}: expected a table with figures = {{ rcai = "120000" }}')
    for k, v in h.get("figures", {}).items():
        try:
            structure(v, Decimal)
        except ValueError as exc:
            raise ValueError(f"{where}.figures.{k}: {exc}") from None


def _value(formula: Formula, figures: Mapping[str, Decimal]) -> Decimal | None:
    try:
        return formula.evaluate(
            figures, lambda name, n: figures.get(f"{name}_prior_{n}", figures.get(name, Decimal(0)))
        )[0]
    except FormulaError:
        return None


def _can_be_zero(formula: Formula) -> bool:
    names = sorted(formula.names) + [f"{n}_prior_1" for n in sorted(formula.prior_names)]
    rng = random.Random(0)
    tries = [dict.fromkeys(names, p) for p in PROBES]
    tries += [{n: rng.choice(PROBES) for n in names} for _ in range(400)]
    return any((v := _value(formula, t)) is None or v <= 0 for t in tries)


def _dates(ag: Agreement, company: CompanyInfo, params: Parameters, err: Any) -> None:
    _, first = ag.period_of(ag.starts_on, company.fiscal_year_start)
    if first.start < ag.starts_on:  # the first whole calculation period after the effective date
        first = Period(
            add_months(first.start, ag.period_months),
            add_months(first.end + timedelta(days=1), ag.period_months) - timedelta(days=1),
        )
    half = (
        add_months(first.start, ag.period_months // 2)
        if ag.period_months % 2 == 0
        else first.start + timedelta(days=first.days // 2)
    )
    last_day = half - timedelta(days=1)
    if ag.signed_on is not None and ag.signed_on > last_day:
        err(
            "I-8",
            f"signed_on: {ag.signed_on} is after {last_day}, the last day before the second half of the first "
            f"calculation period ({first})",
        )
    if ag.deposited_on is not None:
        limit = last_day + timedelta(days=params.value("interessement_deposit_days", last_day))
        if ag.deposited_on > limit:
            err(
                "I-9",
                f"deposited_on: {ag.deposited_on} is more than 15 days after the conclusion deadline ({limit} at the latest)",
            )
