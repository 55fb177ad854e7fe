"""The annex of the fiche distincte for intéressement de projet (D3313-9, LAW section 2).

The essential rules of a project's intéressement, with the period's figures: the project agreement and its
formula over the project's figures (as a sentence and a table), the split of the project pool between the
participating entities (the coordinator's statement, as recorded), the person's entity and its window, the
company's 20 % cap shared with classic intéressement (P-4), then the company's own distribution keys with the
person's figures, the combined individual cap, seniority and reliquat (shared with classic intéressement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from paybonus.calendar import Period
from paybonus.french import date_fr, de, eur, number, percent, period_fr
from paybonus.hooks import (
    Annex,
    AnnexBlock,
    AnnexSection,
    AnnexTable,
    AnnexText,
    Kind,
    RecordedEntitlement,
    StatementContext,
)

from ..annex import common_sections, during, formula_blocks, global_cap_text
from .agreement import ProjectSettings
from .compute import EVENT

SCOPES = {"establishment": "l'établissement", "work_unit": "l'unité de travail"}
SPLITS = {
    "headcount": (
        "l'effectif de chaque entité (jours de contrat de ses salariés sur la période)",
        "Jours de contrat",
    ),
    "payroll": ("la masse salariale de chaque entité sur la période", "Masse salariale"),
    "fixed": (
        "la part fixée par l'accord pour chaque entité, au prorata de ses jours de participation",
        "Part fixée",
    ),
}


def project_annex(entitlements: Sequence[RecordedEntitlement], ctx: StatementContext) -> Annex:
    """The annex of an intéressement de projet statement (`SchemeDescriptor.statement_annex`)."""
    latest: dict[tuple[str, str], RecordedEntitlement] = {}
    for e in entitlements:
        if e.kind is not Kind.INTEREST and "project" in e.explanation.inputs:
            latest[(e.explanation.inputs["project"], e.explanation.inputs["entity"])] = e
    sections: list[AnnexSection] = []
    for last in latest.values():
        sections += _project_sections(last, ctx)
    return Annex(tuple(AnnexSection(f"{n}. {s.title}", s.blocks) for n, s in enumerate(sections, 1)))


def _project_sections(last: RecordedEntitlement, ctx: StatementContext) -> list[AnnexSection]:
    inputs = last.explanation.inputs
    found = ctx.event(str(inputs["statement_event"]))
    statement: Mapping[str, Any] = (
        found.payload.statement if found is not None and found.type == EVENT else {}
    )
    part: Mapping[str, Any] = next(
        (
            p
            for p in ctx.summary(last).get("parts", [])
            if p.get("entity") == inputs["entity"]
            and p.get("statement", inputs.get("statement_hash")) == inputs.get("statement_hash")
        ),
        {},
    )
    settings: ProjectSettings = ctx.config
    participation = next(
        p for p in settings.participations if p.project == inputs["project"] and p.entity == inputs["entity"]
    )
    window = Period.parse(str(inputs["window"]))
    sections = [
        _project(statement, ctx, last.period),
        _entity(statement, inputs, part, window, ctx, last.explanation.parameters),
    ]
    sections += common_sections(ctx, participation, last, part, "intéressement de projet", window)
    return sections


def _project(statement: Mapping[str, Any], ctx: StatementContext, period: Period) -> AnnexSection:
    agreement = statement.get("agreement") or {}
    name = agreement.get("name") or statement.get("project", "")
    signed = agreement.get("signed_on")
    head = (
        f"Le projet « {name} » ({statement.get('project', '')}) fait l'objet d'un accord d'intéressement de projet"
        + (f" conclu le {date_fr(signed)}" if signed else "")
        + (f" (version {statement['agreement_version']})" if statement.get("agreement_version") else "")
        + f", pour la période {period_fr(agreement['starts_on'], agreement['ends_on'])}"
        if agreement
        else "Le projet fait l'objet d'un accord d'intéressement de projet"
    )
    blocks: list[AnnexBlock] = [
        AnnexText(head + " ; plusieurs entreprises y participent, chacune par une entité (article L3312-6).")
    ]
    formula = str(statement.get("formula", ""))
    if formula:
        figures = {k: Decimal(v) for k, v in (statement.get("figures") or {}).items()}
        known = set(agreement.get("figures") or figures)
        who = "Selon l'accord de projet, l'intéressement de projet de la période"
        pool = statement.get("pool_cents")
        blocks += formula_blocks(who, formula, figures, known, ctx, during(period), pool)
    if "pool_cents" in statement and not any(isinstance(b, AnnexTable) for b in blocks):
        blocks.append(
            AnnexText(
                f"Montant global de l'intéressement de projet {during(period)} : {eur(int(statement['pool_cents']))}."
            )
        )
    return AnnexSection("Le projet et son montant global", tuple(blocks))


def _entity(
    statement: Mapping[str, Any],
    inputs: Mapping[str, Any],
    part: Mapping[str, Any],
    window: Period,
    ctx: StatementContext,
    parameters: Mapping[str, Any],
) -> AnnexSection:
    split = str(statement.get("split", "headcount"))
    how, measure = SPLITS.get(split, (split, "Mesure"))
    rows = []
    for r in statement.get("entities", []):
        w = r.get("window")
        when = period_fr(w["start"], w["end"]) if w else "ne participe pas"
        if split == "headcount":
            size = number(int(r.get("headcount_days") or 0))
        elif split == "payroll":
            size = eur(int(r.get("payroll_cents") or 0))
        else:
            size = percent(Decimal(str(r.get("share", "0"))))
        rows.append((r["entity"], r["company"], when, size if w else "", eur(int(r.get("pool_cents", 0)))))
    entity: Mapping[str, Any] = next(
        (r for r in statement.get("entities", []) if r.get("entity") == inputs["entity"]), {}
    )
    scope = str(entity.get("scope", "company"))
    name = ctx.company.name
    part_of = (
        f"{SCOPES[scope]} {entity.get('unit')} {de(name)}" if scope in SCOPES else f"toute la société {name}"
    )
    blocks: list[AnnexBlock] = [
        AnnexText(f"Le montant global est partagé entre les entités participantes selon {how} :"),
        AnnexTable(
            ("Entité", "Société", "Participation", measure, "Part du projet"),
            tuple(rows),
            (17, 15, 34, 16, 18),
            (False, False, False, True, True),
            (
                "Total",
                "",
                "",
                "",
                eur(sum(int(r.get("pool_cents", 0)) for r in statement.get("entities", []))),
            ),
        ),
        AnnexText(
            f"Vous faites partie de l'entité {inputs['entity']} ({part_of}), qui "
            f"participe au projet {period_fr(window.start, window.end)} : seule votre présence et votre salaire "
            "sur cette période comptent."
        ),
    ]
    if "global_cap_cents" in part:
        blocks.append(
            AnnexText(
                global_cap_text(
                    part,
                    f"l'intéressement de projet, ajouté à l'intéressement {de(ctx.company.name)},",
                    parameters,
                )
            )
        )
    return AnnexSection("La part de votre entité", tuple(blocks))
