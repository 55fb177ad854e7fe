"""The salary family: bonuses paid with the salary (LAW sections 4 to 6), sharing one mechanism (`mechanism`):
their period, presence proration with protected absences, leavers, payroll month and DSN code. One plugin
registers the three schemes: prime sur objectif, prime NAO and PMT.
"""

from __future__ import annotations

from paybonus.events import RECOMPUTATION, EventType
from paybonus.hooks import SchemeDescriptor, hookimpl

from . import pmt, prime_nao, prime_objectif


@hookimpl
def paybonus_register_event_types() -> list[EventType]:
    # prime sur objectif and prime NAO compute a period again on request (recomputation_requested)
    return [*prime_objectif.event_types(), *pmt.event_types(), RECOMPUTATION]


@hookimpl
def paybonus_register_schemes() -> list[SchemeDescriptor]:
    return [prime_objectif.descriptor(), prime_nao.descriptor(), pmt.descriptor()]
