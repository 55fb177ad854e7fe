"""Compliance checks of an intéressement agreement (`paybonus lint`), each finding citing its rule.

Errors: what the law forbids (a flat percentage of salaries, turnover, value added or EBE; a formula that can
never give zero; seniority over 3 months; presence-at-a-date conditions; a period that is not a whole number of
months of at least 3; signature after the half-period deadline; deposit late). Warnings: what an inspector would
question (a formula that would have paid in each of the last three exercises: the aléa test).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
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
    try:
        agreement = structure(dict(raw), Agreement)
    except ValueError as exc:
        if not out:
            err("config", str(exc))
    if agreement is not None:
        _dates(agreement, company, params, err)
    return out


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
    for h in history[-3:]:
        figs = {k: Decimal(str(v)) for k, v in (h.get("figures") or {}).items()}
        v = _value(formula, figs)
        if v is not None and v > 0:
            paid += 1
    if paid == 3:
        warn("I-1", "formula: it would have paid in each of the last three exercises: its aléa is doubtful")
    return []


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
