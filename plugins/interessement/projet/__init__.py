"""Scheme `interessement_projet`: intéressement de projet shared by several companies (LAW section 2).

The project agreement (`project.toml`) and the coordinator's statement live in this package; each company's
ledger records the statement as a `project_results_published` event and this scheme distributes the company's
entity part with the company's own criteria, capped together with classic intéressement (P-4, I-20, I-34).
"""

from __future__ import annotations

from typing import Any

from attrs import frozen
from paybonus.calendar import Period
from paybonus.events import Event, EventType
from paybonus.hooks import DsnMapping, LedgerView, SchemeDescriptor, SocialRegime
from paybonus.params import Parameters

from .agreement import ProjectSettings
from .annex import project_annex
from .compute import EVENT, HANDLERS, SCHEME, recompute
from .statement import check_signature, verify

VERSION = "1.2.0"  # 1.2.0: an earlier period computed again after a later one (I-17, I-20); 1.1.0: TMOP convention, calendar-month seniority, cap proration, 20 % base (issue 16)


@frozen
class ProjectResultsPublished:
    """A project's results and their split between entities: the coordinator's statement, as issued (hashed)."""

    project: str
    period: Period
    statement: dict[str, Any]


def check_statement(event: Event[Any], ledger: LedgerView) -> None:
    """Refuse a tampered or inconsistent statement, one that does not concern the event's company, or one not
    signed by the coordinator the company trusts for that project (its participation's `coordinator_key`)."""
    p = event.payload
    st = verify(p.statement, Parameters.default())
    table = ledger.configuration(event.company).get("schemes", {}).get(SCHEME, {})
    trusted = next(
        (x.get("coordinator_key") for x in table.get("participations", []) if x.get("project") == p.project),
        None,
    )
    check_signature(p.statement, trusted)
    if st.project != p.project or st.period != p.period:
        raise ValueError(
            f"payload: the statement is for {st.project} {st.period}, not {p.project} {p.period}"
        )
    if event.company not in {x.company for x in st.parts}:
        raise ValueError(f"company: {event.company} has no entity in project {st.project}")


EVENT_TYPE = EventType(
    EVENT,
    ProjectResultsPublished,
    "a project's results and per-entity pools (the coordinator's statement)",
    check=check_statement,
)

SCHEME_DESCRIPTOR = SchemeDescriptor(
    name=SCHEME,
    version=VERSION,
    label="Intéressement de projet",
    handlers=HANDLERS,
    recompute=recompute,
    dsn=DsnMapping("S21.G00.54", "12", "intéressement (y compris intéressement de projet)"),
    social_regime=SocialRegime.EPARGNE_SALARIALE,  # P-5: same regime as classic intéressement
    config_type=ProjectSettings,
    description="A project pool split between companies' entities, each distributing its part; caps "
    "combined with classic intéressement.",
    requires=("interessement",),  # P-1: a company needs its own intéressement agreement
    statement_annex=project_annex,
)
