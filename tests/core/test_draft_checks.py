"""A draft's checks before it is recorded (`EventBus._draft_columns`): which draft is refused, and with which message,
is what the checks of 2026-12-01 said, one field after the other in the same order; the reference below is those
checks as they were, before each field was read once into a local (issue 17, recording's per-row Python)."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paybonus.bus import MAX_ENTITLEMENT_CENTS, EventBus
from paybonus.calendar import Period
from paybonus.errors import SchemeError
from paybonus.events import Event, PeriodClosed
from paybonus.hooks.types import (
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Kind,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
)

SCHEME = SchemeDescriptor(
    name="flat",
    version="2.1",
    label="Flat",
    handlers={"period_closed": lambda e, c: SchemeResult()},
    recompute=lambda e: 0,
    dsn=DsnMapping("S21.G00.52", "026"),
    social_regime=SocialRegime.SALARY,
)
EVENT = Event(
    "close-2025-12",
    "period_closed",
    "ACME",
    datetime(2026, 1, 5, tzinfo=UTC),
    PeriodClosed(Period.month(2025, 12)),
)


def _reference_refusal(d: object) -> str | None:
    """The message of the first check a draft fails, as the checks were written before (None: it passes)."""
    name = SCHEME.name
    if not isinstance(d, EntitlementDraft):
        return f"scheme {name} returned {type(d).__name__}, not an EntitlementDraft"
    amount, kind = d.amount_cents, d.kind
    if type(amount) is not int:
        return f"scheme {name}: amount_cents must be an int (cents), got {type(amount).__name__}"
    if abs(amount) > MAX_ENTITLEMENT_CENTS:
        return (
            f"scheme {name}: an amount beyond {MAX_ENTITLEMENT_CENTS // 100:,} euros for one "
            "employee is a fault of the computation, not a bonus"
        )
    if type(kind) is not Kind:
        return f"scheme {name}: kind must be a Kind, got {type(kind).__name__}"
    if kind is Kind.PRINCIPAL and amount < 0:
        return f"scheme {name}: a principal entitlement cannot be negative"
    if kind is Kind.ADVANCE and amount <= 0:
        return f"scheme {name}: an advance must be positive"
    if kind in (Kind.CORRECTION, Kind.INTEREST) and d.corrects is None:
        return f"scheme {name}: a {kind} must reference the entitlement it relates to"
    if type(d.employee) is not str or not d.employee.strip():
        got = type(d.employee).__name__ if type(d.employee) is not str else "an empty id"
        return f"scheme {name}: employee must be a non-empty str, got {got}"
    if d.corrects is not None and type(d.corrects) is not str:
        return f"scheme {name}: corrects must be an entitlement id (str) or None"
    if type(d.key) is not str:
        return f"scheme {name}: key must be a str, got {type(d.key).__name__}"
    if not isinstance(d.period, Period):
        return f"scheme {name}: period must be a Period, got {type(d.period).__name__}"
    if type(d.period.start) is not date or type(d.period.end) is not date:
        return f"scheme {name}: a period's start and end must be dates"
    if d.due_date is not None and type(d.due_date) is not date:
        return f"scheme {name}: due_date must be a date or None, got {type(d.due_date).__name__}"
    if d.dsn is not None and not (
        isinstance(d.dsn, DsnMapping) and type(d.dsn.block) is str and type(d.dsn.code) is str
    ):
        return f"scheme {name}: a draft's dsn must be a DsnMapping of a block and a code (str)"
    return None


MAX = MAX_ENTITLEMENT_CENTS
amounts = st.sampled_from([0, 1, -1, MAX, -MAX, MAX + 1, -MAX - 1, 12.5, True, "100"]) | st.integers(
    -(10**12), 10**12
)
employees = st.sampled_from(["E1", "", " ", "\u2003", "\t\n", " E1 ", "\u2003E1", 1, None, ("E1", "x")])
kinds = st.sampled_from([*Kind, "principal", None])
corrects = st.sampled_from([None, "ENT-00000000000000000001", 7, ""])
keys = st.sampled_from(["", "award|1", None, 3])
periods = st.sampled_from(
    [
        Period.month(2025, 12),
        Period.parse("2025"),
        "2025-01",
        Period(datetime(2025, 1, 1), datetime(2025, 1, 31)),
    ]
)
dues = st.sampled_from([None, date(2026, 5, 31), "2026-05-31", datetime(2026, 5, 31, 12)])
dsns = st.sampled_from(
    [None, DsnMapping("S21.G00.54", "12"), DsnMapping("S21.G00.54", 12), "S21", {"block": "x"}]
)  # type: ignore[arg-type]
drafts = st.builds(
    EntitlementDraft,
    employees,
    periods,
    amounts,
    st.just(Explanation({"n": 1}, steps=["one"], rules=["I-1"])),
    kinds,
    dues,
    corrects,
    keys,
    dsns,
) | st.sampled_from([None, "a draft", Explanation()])


@settings(max_examples=600)
@given(draft=drafts)
def test_a_draft_is_refused_by_the_check_and_the_message_of_before(draft):
    bus = EventBus.__new__(EventBus)  # `_draft_columns` reads no state of the bus
    expected = _reference_refusal(draft)
    if expected is None:
        assert len(list(bus._draft_columns(EVENT, SCHEME, SchemeResult([draft]), {}))) == 1
    else:
        with pytest.raises(SchemeError) as caught:
            list(bus._draft_columns(EVENT, SCHEME, SchemeResult([draft]), {}))
        assert str(caught.value) == expected


@pytest.mark.parametrize("kind", list(Kind))
def test_a_kinds_text_is_its_value_in_the_row_and_in_the_id(kind):
    corrects = None if kind in (Kind.PRINCIPAL, Kind.ADVANCE) else "ENT-00000000000000000001"
    draft = EntitlementDraft("E1", Period.month(2025, 12), 100, Explanation(), kind, corrects=corrects)
    bus = EventBus.__new__(EventBus)
    (columns,) = bus._draft_columns(EVENT, SCHEME, SchemeResult([draft]), {})
    assert columns[5] == kind.value and type(columns[5]) is str
    import hashlib

    key = f"ACME|flat|E1|{Period.month(2025, 12).key}|{kind.value}|{EVENT.id}"
    assert columns[0] == "ENT-" + hashlib.sha256(key.encode()).hexdigest()[:20]
