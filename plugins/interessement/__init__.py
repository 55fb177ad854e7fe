"""The intéressement family: classic intéressement under a company agreement (LAW section 1) and, in `projet`,
intéressement de projet shared by several companies (LAW section 2). One plugin registers both: they share their
caps and their distribution rules (`shared`), and the late-payment interest (`interest`).
"""

from __future__ import annotations

from datetime import date

import click
from attrs import frozen
from paybonus.calendar import Period
from paybonus.events import RECOMPUTATION, EventType
from paybonus.hooks import DsnMapping, SchemeDescriptor, SocialRegime, hookimpl

from . import advances, projet
from .agreement import Agreement
from .annex import classic_annex
from .compute import HANDLERS, SCHEME, recompute
from .lint import lint

# 1.2.0: an earlier period computed again after a later one, under the exercise's 20 % cap (I-17); 1.1.0: the
# legal review (CHANGELOG): TMOP in force, calendar-month seniority, prorated caps, bases, advances
VERSION = "1.2.0"


@frozen
class SupplementDecided:
    """The board (or the employer) decided a supplément d'intéressement for a closed exercise (L3314-10)."""

    exercise: Period
    amount_cents: int
    decided_on: date

    def __attrs_post_init__(self) -> None:
        if self.amount_cents <= 0:
            raise ValueError("amount_cents must be positive")


INTERESSEMENT = SchemeDescriptor(
    name=SCHEME,
    version=VERSION,
    label="Intéressement",
    handlers=HANDLERS,
    recompute=recompute,
    dsn=DsnMapping("S21.G00.54", "12", "intéressement (y compris supplément)"),
    social_regime=SocialRegime.EPARGNE_SALARIALE,
    config_type=Agreement,
    description="Pool from the agreement's formula, capped, distributed by uniform/presence/salary sub-pools.",
    lint=lint,
    statement_annex=classic_annex,
)


@hookimpl
def paybonus_register_event_types() -> list[EventType]:
    return [
        EventType(
            "supplement_decided",
            SupplementDecided,
            "a supplément d'intéressement was decided",
            reported=("decided_on",),
        ),
        *advances.EVENT_TYPES,
        projet.EVENT_TYPE,
        RECOMPUTATION,  # the family's schemes compute a period again on request
    ]


@hookimpl
def paybonus_register_schemes() -> list[SchemeDescriptor]:
    return [INTERESSEMENT, projet.SCHEME_DESCRIPTOR]


@hookimpl
def paybonus_register_commands() -> list[click.Command]:
    from .projet.cli import project

    return [project]
