"""The bulk recording path (issue 17): the rows, digests, ids and chain entries it writes are, byte for byte, what
the row-at-a-time path before it wrote. The reference below is that path as it was (0.1, before the bulk path):
one dict of columns per row, each value's `str` joined for the digest, `json.dumps` for the explanation."""

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paybonus.bus import EventBus
from paybonus.calendar import Period
from paybonus.events import Event, PeriodClosed, _json_default
from paybonus.hooks.types import (
    DsnMapping,
    EntitlementDraft,
    Explanation,
    Kind,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
)
from paybonus.store.audit_log import OPENED, chain_hash
from paybonus.store.entitlements import ENTITLEMENT_COLUMNS, digest_of_values, new_rows
from paybonus.store.ledger import digest_of

DSN = DsnMapping("S21.G00.52", "026")
SCHEME = SchemeDescriptor(
    name="flat",
    version="2.1",
    label="Flat",
    handlers={"period_closed": lambda e, c: SchemeResult()},
    recompute=lambda e: 0,
    dsn=DSN,
    social_regime=SocialRegime.SALARY,
)
EVENT = Event(
    "close-2025-12",
    "period_closed",
    "ACME",
    datetime(2026, 1, 5, tzinfo=UTC),
    PeriodClosed(Period.month(2025, 12)),
)
AT = "2026-01-05T18:00:00+00:00"


def _reference_json(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _reference_rows(event, scheme, drafts, at):
    """The rows of the row-at-a-time path (bus._rows, EntitlementRow.new, digest_of_values before the bulk path)."""
    out, parts, shared = [], {}, {}
    for d in drafts:
        key = f"{event.company}|{scheme.name}|{d.employee}|{d.period.key}|{d.kind}|{d.key or event.id}"
        ident = "ENT-" + hashlib.sha256(key.encode()).hexdigest()[:20]
        expl = d.explanation
        if expl.shared is None:
            text = _reference_json(expl.own_dict())
        else:
            part = parts.get(id(expl.shared))
            if part is None:
                body = _reference_json(expl.shared.own_dict())
                part = parts[id(expl.shared)] = (
                    hashlib.sha256(body.encode()).hexdigest(),
                    frozenset(expl.shared.rules),
                )
                shared[part[0]] = body
            own = expl.own_dict()
            own["rules"] = [r for r in own["rules"] if r not in part[1]]
            own["shared"] = part[0]
            text = _reference_json(own)
        dsn = d.dsn or scheme.dsn
        columns = dict(
            id=ident,
            scheme=scheme.name,
            scheme_version=scheme.version,
            company=event.company,
            employee=d.employee,
            period_start=d.period.start.isoformat(),
            period_end=d.period.end.isoformat(),
            amount_cents=d.amount_cents,
            kind=str(d.kind),
            social_regime=str(scheme.social_regime),
            dsn_block=dsn.block,
            dsn_code=dsn.code,
            due_date=d.due_date.isoformat() if isinstance(d.due_date, date) else None,
            status="due",
            event_id=event.id,
            corrects=d.corrects,
            explanation=text,
        )
        values = [columns[c] for c in ENTITLEMENT_COLUMNS if c not in ("status", "digest", "recorded_at")]
        columns["digest"] = hashlib.sha256(
            "\x1f".join(["\x00" if v is None else str(v) for v in values]).encode("utf-8")
        ).hexdigest()
        columns["recorded_at"] = at
        out.append(tuple(columns[c] for c in ENTITLEMENT_COLUMNS))
    return out, shared


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | texts
    | st.decimals(places=2, allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
rules = st.lists(st.sampled_from(["I-1", "I-2", "N-1", "N-4", "D-2"]), max_size=3, unique=True)
explanations = st.builds(
    Explanation,
    st.dictionaries(texts, values, max_size=4),
    st.dictionaries(texts, values, max_size=2),
    st.lists(texts, max_size=3) | st.tuples(texts),
    rules | rules.map(tuple),
)
periods = st.sampled_from([Period.parse("2025"), Period.month(2025, 6), Period.month(2025, 7)])
dues = st.sampled_from([None, date(2026, 5, 31), date(2026, 6, 30)])


@st.composite
def draft_lists(draw):
    pool = draw(st.none() | explanations)  # the part the drafts share, if any
    drafts = []
    for n in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(list(Kind)))
        amount = draw(st.integers(1, 10**9))
        amount = -amount if kind is Kind.CORRECTION and draw(st.booleans()) else amount
        corrects = f"ENT-{n:020d}" if kind in (Kind.CORRECTION, Kind.INTEREST) else draw(st.none() | texts)
        own = draw(explanations)
        if pool is not None:
            own = Explanation(own.inputs, own.parameters, own.steps, own.rules, shared=pool)
        drafts.append(
            EntitlementDraft(
                draw(st.sampled_from(["E1", "É-2", "E3"])) + f"-{n}",
                draw(periods),
                amount,
                own,
                kind,
                draw(dues),
                corrects,
                key=draw(st.sampled_from(["", "award|1"])),
                dsn=draw(st.none() | st.just(DsnMapping("S21.G00.54", "12"))),
            )
        )
    return drafts


@settings(max_examples=300)
@given(draft_lists())
def test_the_bulk_rows_are_the_rows_of_the_row_at_a_time_path(drafts):
    bus = EventBus.__new__(EventBus)  # `_rows` reads no state of the bus
    shared: dict[str, str] = {}
    rows = list(bus._rows(EVENT, SCHEME, SchemeResult(drafts), AT, shared))
    expected, expected_shared = _reference_rows(EVENT, SCHEME, drafts, AT)
    assert rows == expected
    assert [type(v) for r in rows for v in r] == [type(v) for r in expected for v in r]
    assert shared == expected_shared


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            texts | st.integers(),
            st.none() | texts,
            st.none() | texts,
            st.none() | st.just("2026-05-31"),
            st.none() | texts,
            texts,
        ),
        max_size=5,
    )
)
def test_new_rows_digest_every_immutable_column_as_digest_of_values_does(parts):
    drafts = [
        (f"ENT-{i}", emp, "2025-01-01", "2025-12-31", i * 100, "principal", block, code, due, corrects, expl)
        for i, (_, emp, block, code, due, corrects, expl) in enumerate(parts)
    ]
    for row in new_rows(AT, "s", "1", "ACME", "salary", "ev-1", drafts):
        by_name = dict(zip(ENTITLEMENT_COLUMNS, row, strict=True))
        assert by_name["status"] == "due" and by_name["recorded_at"] == AT
        immutable = [v for c, v in by_name.items() if c not in ("status", "digest", "recorded_at")]
        assert by_name["digest"] == digest_of_values(immutable)


def test_a_streamed_append_chains_each_entry_as_chain_hash_does(both_backends_ledger):
    ledger = both_backends_ledger
    entries = (("entitlement.recorded", f"ENT-{i}", f"{i:064x}") for i in range(2_000))
    with ledger.write("ACME"):
        head = ledger.audit.append("ACME", AT, entries)
        again = ledger.audit.append("ACME", AT, [("dispatch.completed", "ev/s", "d" * 64)])
    got = list(ledger.audit.entries("ACME"))
    assert [e.action for e in got[:2]] == [OPENED, "entitlement.recorded"] and len(got) == 2_002
    assert (head.n, again.n) == (2_001, 2_002) and again.hash == got[-1].hash
    prev = got[0].prev_hash
    for e in got:
        assert e.prev_hash == prev and e.hash == chain_hash(
            prev, e.company, e.n, e.at, e.action, e.ref, e.digest
        )
        prev = e.hash


@pytest.mark.parametrize(
    "data",
    [
        None,
        {
            "event": "e",
            "findings": [["warning", "I-1", "message é", None]],
            "entitlements": ["ENT-1"],
            "load": 3,
        },
        {"as_of": "2026-05-31", "b": Decimal("1.10"), "d": date(2026, 1, 1), "t": (1, 2)},
    ],
)
def test_digest_of_is_the_digest_of_json_dumps_with_str_for_the_rest(data):
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert digest_of(data) == hashlib.sha256(text.encode("utf-8")).hexdigest()
