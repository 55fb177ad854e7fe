"""The annex of the fiche distincte for classic intéressement (D3313-9, LAW 1.9): the rules, with the year's figures.

"Une note rappelant les règles essentielles de calcul et de répartition": the formula as a sentence with a table
of its tranches or terms and the period's figures, the global cap, the distribution keys with the person's own
presence and salary figures, the individual cap, seniority and reliquat. Everything comes from what the
computation recorded (the entitlement's explanation and the dispatch's summary) and the payroll as loaded.
The parts shared with intéressement de projet (keys, caps, seniority, reliquat) are used by `projet.annex`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from paybonus.calendar import Period
from paybonus.french import NBSP, date_fr, de, eur, eur0, number, percent, period_fr, plural
from paybonus.hooks import (
    Annex,
    AnnexBlock,
    AnnexList,
    AnnexSection,
    AnnexTable,
    AnnexText,
    Kind,
    RecordedEntitlement,
    StatementContext,
)
from paybonus.payroll import EmployeeRecord

from . import formula_text
from .agreement import COMPUTED_FIGURES, STANDARD_FIGURES, Agreement
from .shared import ASSIMILATED, DistributionRules

CRITERIA = {"uniform": "Part uniforme", "presence": "Temps de présence", "salary": "Salaire brut"}
ABSENCES = {
    "illness": "arrêt maladie",
    "maternity": "congé de maternité",
    "paternity": "congé de paternité et d'accueil de l'enfant",
    "commuting_accident": "arrêt pour accident de trajet",
    "occupational_disease": "arrêt pour maladie professionnelle",
    "work_accident": "arrêt pour accident du travail",
    "adoption": "congé d'adoption",
    "bereavement": "congé de deuil",
    "quarantine": "quarantaine",
    "activite_partielle": "activité partielle",
    "unpaid_leave": "congé sans solde",
    "strike": "grève",
    "other": "autre absence",
}
ROUNDING_NOTE = (
    "Les parts sont calculées au centime ; les centimes restants sont attribués un à un (méthode du plus fort "
    "reste), de sorte que la somme des parts est égale au montant à répartir."
)


def classic_annex(entitlements: Sequence[RecordedEntitlement], ctx: StatementContext) -> Annex:
    """The annex of a classic intéressement statement (`SchemeDescriptor.statement_annex`)."""
    rights = [e for e in entitlements if e.kind is not Kind.INTEREST]
    main = [e for e in rights if "supplement_decision" not in e.explanation.inputs]
    supplements = [e for e in rights if "supplement_decision" in e.explanation.inputs]
    ag: Agreement = ctx.config
    sections: list[AnnexSection] = []
    if main:
        last = main[-1]
        summary = ctx.summary(last)
        sections.append(_global_amount(ag, summary, ctx, last))
        sections += common_sections(ctx, ag, last, summary, "intéressement", last.period)
    for s in supplements:
        sections.append(_supplement(s, ctx))
    return Annex(tuple(_numbered(sections)), _agreement(ag))


def _agreement(ag: Agreement) -> str:
    """ "Accord d'intéressement conclu le 10 mars 2025, déposé le 20 mars 2025, applicable du ... au ..."."""
    text = "Accord d'intéressement"
    if ag.signed_on:
        text += f" conclu le {date_fr(ag.signed_on)}"
    if ag.deposited_on:
        text += f", déposé le {date_fr(ag.deposited_on)}"
    if ag.ends_on:
        return text + f", applicable {period_fr(ag.starts_on, ag.ends_on)}."
    return text + f", applicable à partir du {date_fr(ag.starts_on)}."


def _global_amount(
    ag: Agreement, summary: Mapping[str, Any], ctx: StatementContext, last: RecordedEntitlement
) -> AnnexSection:
    figures = {k: Decimal(v) for k, v in (summary.get("figures") or {}).items()}
    known = {*STANDARD_FIGURES, *COMPUTED_FIGURES, *ag.figures}
    who = "Selon l'accord, l'intéressement global de la période"
    raw = summary.get("pool_raw_cents")
    blocks = formula_blocks(who, ag.formula, figures, known, ctx, during(last.period), raw)
    if "global_cap_cents" in summary:
        blocks.append(
            AnnexText(global_cap_text(summary, "l'intéressement distribué", last.explanation.parameters))
        )
    return AnnexSection("Le montant global", tuple(blocks))


def formula_blocks(
    who: str,
    formula: str,
    figures: Mapping[str, Decimal],
    known: set[str],
    ctx: StatementContext,
    year: str,
    total_cents: int | None = None,
) -> list[AnnexBlock]:
    """The formula in words, then its tables with the period's figures: its tranches, its terms (a sum reads
    best as a table of its terms, each with its amount), or its figures. `who` starts the first sentence;
    `year`: when, as `during` says it ("en 2025"); `total_cents`: the amount the computation recorded, shown
    as the total of the terms. The agreement's own words ([statement.formulas]) replace
    the generated sentence; the tables stay."""
    labels = ctx.figure_labels
    t = formula_text.tables(formula, figures, known, labels) if figures else None
    if ctx.formula_wording:
        said = f"est égal à {ctx.formula_wording.rstrip('.')}"
    elif t and t["terms"]:
        said = "est la somme des éléments ci-dessous, calculés avec les chiffres de la période"
        if t["figures"] and not t["brackets"]:
            said += " (" + ", ".join(f"{f['label']} : {f['value']}" for f in t["figures"]) + ")"
    else:
        said = f"est égal à {formula_text.sentence(formula, labels)}"
    blocks: list[AnnexBlock] = [AnnexText(f"{who} {said}. Il ne peut jamais être négatif.")]
    if t is None:
        return blocks
    when = year[:1].upper() + year[1:]
    for b in t["brackets"]:
        if b["kind"] == "brackets":
            blocks.append(AnnexText(f"{when}, {b['of']} s'élève à {b['x']} :"))
            blocks.append(
                AnnexTable(
                    ("Tranche", "Taux", "Part dans la tranche", "Montant"),
                    tuple((r["range"], r["rate"], r["part"], r["amount"]) for r in b["rows"]),
                    (37, 13, 25, 25),
                    (False, True, True, True),
                    ("Total", "", b["x"], b["total"]),
                )
            )
        else:
            reached = [r for r in b["rows"] if r["reached"]]
            blocks.append(
                AnnexText(
                    f"{when}, {b['of']} s'élève à {b['x']}"
                    + (f" : le palier «{NBSP}{reached[0]['range']}{NBSP}» s'applique." if reached else ".")
                )
            )
    if t["terms"]:
        blocks.append(
            AnnexTable(
                ("Élément de la formule", "Montant"),
                tuple((x["text"], x["value"]) for x in t["terms"]),
                (78, 22),
                (False, True),
                ("Montant global", eur(total_cents) if total_cents is not None else t["value"]),
            )
        )
    elif t["figures"] and not t["brackets"]:
        shown = ", ".join(f"{f['label']} : {f['value']}" for f in t["figures"])
        blocks.append(AnnexText(f"Chiffres de la période : {shown}."))
    return blocks


def global_cap_text(summary: Mapping[str, Any], what: str, parameters: Mapping[str, Any]) -> str:
    """The 20 % cap on the payroll (I-17 to I-20), with the figures and the rate the computation used."""
    payroll, cap = int(summary["payroll_cents"]), int(summary["global_cap_cents"])
    already = int(summary.get("already_in_exercise_cents") or 0)
    raw = int(summary.get("pool_raw_cents", summary.get("entity_pool_cents", 0)))
    pool = int(summary["pool_cents"])
    rate = percent(str((parameters.get("global_cap_rate") or {}).get("value", "0.20")))
    text = (
        f"Plafond global : {what} ne peut dépasser {rate} des salaires bruts de l'exercice "
        f"({eur(payroll)}), soit {eur(cap)}"
    )
    later = int(summary.get("later_in_exercise_cents") or 0)  # periods computed before this one (I-17)
    if already:
        text += f", dont {eur(already)} déjà attribués au titre de l'exercice"
    if later:
        text += f", et {eur(later)} attribués au titre des périodes suivantes, calculées avant celle-ci"
    if pool >= raw:
        text += " ; il n'est pas atteint."
    elif later:
        text += " ; il a été atteint et le montant a été ramené à ce que ce plafond permet encore."
    else:
        text += " ; il a été atteint et le montant a été ramené à ce plafond."
    return text + f" Montant à répartir : {eur(pool)}."


def common_sections(
    ctx: StatementContext,
    rules: DistributionRules,
    last: RecordedEntitlement,
    summary: Mapping[str, Any],
    label: str,
    period: Period,
) -> list[AnnexSection]:
    """Distribution keys with the person's figures, the individual cap, seniority and reliquat."""
    inputs, parameters = last.explanation.inputs, last.explanation.parameters
    shares = {s.criterion: s.share for s in getattr(rules, "distribution", [])}
    return [
        _keys(ctx, rules, inputs, shares, last.employee, period),
        _caps(inputs, parameters, rules, label),
        _seniority_and_reliquat(rules, summary, during(period)),
    ]


def _keys(
    ctx: StatementContext,
    rules: DistributionRules,
    inputs: Mapping[str, Any],
    shares: Mapping[str, Decimal],
    employee: str,
    period: Period,
) -> AnnexSection:
    prorate = rules.part_time == "prorate"
    full_hours = Decimal(
        str(ctx.params.value("legal_monthly_hours", period.end))
    )  # as the computation read it
    cap = inputs.get("cap_room_cents")
    first: dict[str, list[int]] = {}
    given = 0
    after_first: list[int] = []
    for n, parts in enumerate(inputs.get("rounds") or []):
        t = 0
        for crit, pool, w, tot, extra in parts:
            amount = int(pool) * int(w) // int(tot) + int(extra)
            t += amount
            if n == 0:
                first[str(crit)] = [int(pool), int(w), int(tot), amount]
        got = t if cap is None else min(t, int(cap) - given)
        after_first.append(got - (t if n == 0 else 0))
        given += got
    rows = []
    for crit, (pool, w, tot, amount) in first.items():
        yours, everyone = _figures(crit, w, tot, prorate, full_hours)
        rows.append(
            (CRITERIA.get(crit, crit), percent(shares.get(crit, 0)), eur(pool), yours, everyone, eur(amount))
        )
    capped_by = after_first[0] if after_first else 0
    if capped_by:
        rows.append(("Ramené au plafond individuel", "", "", "", "", eur(capped_by)))
    redistributed = sum(after_first[1:])
    if redistributed:
        rows.append(("Reliquat redistribué", "", "", "", "", eur(redistributed)))
    pool_total = sum(v[0] for v in first.values())
    blocks: list[AnnexBlock] = [
        AnnexText(
            (
                f"Le montant à répartir est partagé en {len(first)} parts, chacune répartie selon un critère de "
                "l'accord (article L3314-5)."
                if len(first) > 1
                else "Le montant à répartir est réparti selon un seul critère de l'accord (article L3314-5)."
            )
            + " Vos chiffres et votre part :"
        ),
        AnnexTable(
            ("Critère", "Part", "À répartir", "Vos chiffres", "Tous les bénéficiaires", "Votre part"),
            tuple(rows),
            (20, 9, 17, 17, 19, 18),
            (False, True, True, True, True, True),
            ("Total", f"100{NBSP}%", eur(pool_total), "", "", eur(given)),
        ),
    ]
    blocks.append(AnnexList(tuple(_key_notes(ctx, rules, inputs, first, employee, period))))
    return AnnexSection("La répartition entre les bénéficiaires", tuple(blocks))


def _figures(crit: str, w: int, tot: int, prorate: bool, full_hours: Decimal) -> tuple[str, str]:
    """The person's weight and everyone's, in words."""
    if crit == "salary":
        return eur(w), eur(tot)
    if crit == "uniform":
        if prorate:  # the weight is the working-time ratio in ten-thousandths (I-29)
            return percent(Decimal(w) / 10_000), f"{number(Decimal(tot) / 10_000, 2)}{NBSP}ETP"
        return plural(w, "bénéficiaire", "bénéficiaires"), plural(tot, "bénéficiaire", "bénéficiaires")
    if crit == "presence" and prorate:  # days present x the month's contractual hours, in hundredths (I-29)
        unit = full_hours * 100  # a full-time day: days in full-time equivalent
        return (
            f"{number(Decimal(w) / unit, 2)}{NBSP}jours ETP",
            f"{number(Decimal(tot) / unit, 2)}{NBSP}jours ETP",
        )
    return plural(w, "jour", "jours"), plural(tot, "jour", "jours")


def _key_notes(
    ctx: StatementContext,
    rules: DistributionRules,
    inputs: Mapping[str, Any],
    first: Mapping[str, Any],
    employee: str,
    period: Period,
) -> list[str]:
    record = next((e for e in ctx.population(period).employees if e.id == employee), None)
    prorate = rules.part_time == "prorate"
    notes = []
    for crit in first:
        if crit == "uniform":
            notes.append(
                "Part uniforme : la même somme pour chaque bénéficiaire"
                + (", réduite pour un temps partiel en proportion du temps de travail." if prorate else ".")
            )
        elif crit == "presence":
            notes.append(_presence_note(inputs, record, period))
        elif crit == "salary":
            notes.append(_salary_note(inputs, record, period))
    ratio = Decimal(str(inputs.get("working_time_ratio", "1")))
    if ratio < 1:
        notes.append(
            f"Temps partiel : votre temps de travail représente {percent(ratio)} d'un temps plein. "
            + (
                "Comme le prévoit l'accord, votre part uniforme et votre temps de présence sont comptés dans "
                "cette proportion ; votre salaire reflète lui aussi votre temps de travail."
                if prorate
                else "L'accord ne réduit pas pour autant votre part uniforme ni votre part liée à la présence ; "
                "seul votre salaire reflète votre temps de travail."
            )
        )
    return notes


def _presence_note(inputs: Mapping[str, Any], record: EmployeeRecord | None, period: Period) -> str:
    text = (
        f"Temps de présence : {plural(int(inputs.get('presence_days', 0)), 'jour', 'jours')} de présence "
        f"{during(period)} sur {plural(int(inputs.get('employed_days', 0)), 'jour', 'jours')} de contrat"
    )
    counted: list[str] = []
    missed: list[str] = []
    for a in record.absences if record else ():
        span = period.overlap(a.period)
        if span is None:
            continue
        kind = ABSENCES.get(str(a.kind), str(a.kind))
        said = f"{plural(span.days, 'jour', 'jours')} {de(kind)} ({period_fr(span.start, span.end)})"
        (counted if a.kind in ASSIMILATED else missed).append(said)
    if counted:
        text += ", dont " + ", ".join(counted) + " comptés comme présence"
    if missed:
        text += " ; " + ", ".join(missed) + " non comptés"
    return text + (
        ". Les congés de maternité, de paternité, d'adoption et de deuil, les arrêts pour accident du travail ou "
        "maladie professionnelle et l'activité partielle comptent comme présence (articles L3314-5 et R5122-11) ; "
        "les autres absences, dont la maladie, non."
    )


def _salary_note(inputs: Mapping[str, Any], record: EmployeeRecord | None, period: Period) -> str:
    salary = int(inputs.get("salary_cents", 0))
    used = int(inputs.get("salary_used_cents", salary))
    paid = sum(p.gross_cents for p in record.pay_in(period)) if record else salary
    text = f"Salaire : votre salaire brut de la période, {eur(salary)}"
    if salary > paid:
        text += (
            f", dont {eur(salary - paid)} reconstitués : pendant les absences comptées comme présence, le salaire "
            "retenu est celui que vous auriez perçu (article R3314-3)"
        )
    if used != salary:
        text += f" ; il est retenu pour {eur(used)}, compte tenu du plancher ou du plafond de l'accord"
    text += "."
    if salary <= paid:
        text += (
            " Pendant les absences comptées comme présence, le salaire retenu est celui que vous auriez perçu "
            "(article R3314-3)."
        )
    return text


def _cap_prorated(inputs: Mapping[str, Any], rules: DistributionRules) -> bool:
    """Whether the person's cap was reduced for a partial year (I-33, D-4): as the explanation records it, or, for
    an amount computed before 1.1.0, as the agreement said then (its former key)."""
    if "cap_proration" in inputs:
        return inputs["cap_proration"] != "none" and ("cap_days" in inputs or "cap_months" in inputs)
    return getattr(rules, "prorate_cap_by_presence", None) is True


def _caps(
    inputs: Mapping[str, Any], parameters: Mapping[str, Any], rules: DistributionRules, label: str
) -> AnnexSection:
    pass_cents = int(Decimal(str(parameters.get("pass_average_cents", "0"))))
    rate = percent(Decimal(str((parameters.get("individual_cap_rate") or {}).get("value", "0"))))
    cap = int(inputs.get("individual_cap_cents") or 0)
    already = int(inputs.get("already_in_exercise_cents") or 0)
    text = (
        f"Vos droits de l'exercice (intéressement, intéressement de projet et supplément éventuels) ne peuvent "
        f"dépasser {rate} du plafond annuel de la sécurité sociale ({eur0(pass_cents)}), soit {eur(cap)}"
        + (
            ", plafond réduit en proportion de votre durée de présence dans l'effectif"
            if _cap_prorated(inputs, rules)
            else ""
        )
        + " (article L3314-8)."
    )
    if already:
        text += f" Vous aviez déjà reçu {eur(already)} au titre de l'exercice avant cet {label}."
    text += (
        " Votre part a été limitée à ce plafond." if inputs.get("capped") else " Votre part ne l'atteint pas."
    )
    return AnnexSection("Les plafonds", (AnnexText(text),))


def _seniority_and_reliquat(rules: DistributionRules, summary: Mapping[str, Any], year: str) -> AnnexSection:
    months = rules.seniority_months
    text = (
        f"Il faut {months} mois d'ancienneté dans l'entreprise, appréciés sur la période de calcul et les douze "
        "mois qui la précèdent, tous contrats confondus (article L3342-1). Vous la remplissez : toute votre "
        "présence de la période compte."
        if months
        else "L'accord ne prévoit pas de condition d'ancienneté : tous les salariés en bénéficient."
    )
    redistribute = getattr(rules, "reliquat", "keep") == "redistribute"
    reliquat = (
        "Lorsque le plafond individuel empêche d'attribuer tout ou partie d'une part, la somme correspondante est "
        "répartie entre les autres bénéficiaires selon les mêmes règles, sans dépasser leur propre plafond "
        "(article L3314-11)."
        if redistribute
        else "Lorsque le plafond individuel empêche d'attribuer tout ou partie d'une part, la somme "
        "correspondante n'est pas distribuée : l'accord ne prévoit pas de nouvelle répartition."
    )
    capped = int(summary.get("capped") or 0)
    undistributed = int(summary.get("undistributed_cents") or 0)
    when = year[:1].upper() + year[1:]
    if capped:
        reliquat += (
            f" {when}, {plural(capped, 'bénéficiaire a atteint', 'bénéficiaires ont atteint')} le plafond"
        )
        reliquat += f" et {eur(undistributed)} n'ont pas été distribués." if undistributed else "."
    elif summary:
        reliquat += f" {when}, aucun bénéficiaire n'a atteint le plafond."
    return AnnexSection(
        "Ancienneté et sommes non attribuées (reliquat)",
        (AnnexText(text), AnnexText(reliquat), AnnexText(ROUNDING_NOTE, small=True)),
    )


def _supplement(e: RecordedEntitlement, ctx: StatementContext) -> AnnexSection:
    decided = e.explanation.inputs.get("decided_on") or ""
    summary = ctx.summary(e)
    total = summary.get("pool_cents")
    text = (
        "Un supplément d'intéressement a été décidé"
        + (f" le {date_fr(decided)}" if decided else "")
        + (f" pour un montant global de {eur(int(total))}" if total is not None else "")
        + f" ; il est réparti selon les règles de l'accord, dans les mêmes plafonds (article L3314-10). Votre part : "
        f"{eur(e.amount_cents)}."
    )
    return AnnexSection("Le supplément d'intéressement", (AnnexText(text),))


def _numbered(sections: list[AnnexSection]) -> list[AnnexSection]:
    return [AnnexSection(f"{n}. {s.title}", s.blocks) for n, s in enumerate(sections, 1)]


def during(period: Period) -> str:
    """When, in a sentence: "en 2025", "sur l'exercice 2025-2026", "du 1er janvier au 31 mars 2025"."""
    if period.whole_months() == 12:
        if period.start.month == 1 and period.start.day == 1:
            return f"en {period.start.year}"
        return f"sur l'exercice {period.start.year}-{period.end.year}"
    return period_fr(period.start, period.end)
