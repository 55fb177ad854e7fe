"""Single-employee events of one company computed and recorded together (docs/performance.md) give exactly what
one event at a time gives, in any order: same ids, amounts and explanations, every chain valid."""

import itertools

import pytest
from attrs import evolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paybonus import EventBus, Ledger, bus, load_plugins
from paybonus.audit import verify
from paybonus.bench import _results
from paybonus.events import canonical_json
from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate
from paybonus.sources import store_company

COMPANY = generate(
    "BATCH",
    employees=80,
    seed=7,
    schemes_toml=SAMPLE_SCHEMES,
    salary_schemes=True,
    results=_results(80),
    csv_rows=False,
)
LINES = [canonical_json(e) for e in sorted(COMPANY.events, key=lambda e: e["occurred_at"])]


def run(path, lines, batch, together=True, chain=False):
    """`together` False: every scheme computed after the ones before it were recorded, each dispatch in its own
    transaction (no scheme declares `reads_own_entitlements_only`). `chain`: the audit chain's order too (a batch
    records its events before their dispatches: another order, the same entries)."""
    ledger = Ledger.create(path)
    store_company(ledger, COMPANY.data)
    b = EventBus(ledger, load_plugins(entry_points=False))
    if not together:
        b.host.schemes = {n: evolve(s, reads_own_entitlements_only=False) for n, s in b.host.schemes.items()}
    old, bus.BATCH = bus.BATCH, batch
    try:
        b.publish_all(b.host.event_types.read_jsonl("batch", lines))
    finally:
        bus.BATCH = old
    assert verify(ledger, b.host.schemes, params=b.params).ok
    rows = {
        r["id"]: (
            r["amount_cents"],
            r["kind"],
            r["corrects"],
            r["due_date"],
            ledger.entitlements.explanation(r),
        )
        for r in ledger.entitlements.all()
    }
    if chain:  # the event, then each scheme's entitlements and dispatch, schemes by name
        rows["chain"] = [
            tuple(r) for r in ledger.conn.execute("SELECT action, ref FROM audit_log ORDER BY company, n")
        ]
    failed = ledger.dispatches.failed()
    b.close()
    ledger.close()
    assert not failed
    return rows


def test_the_generated_year_has_runs_of_single_employee_events_to_batch():
    types = [e["type"] for e in sorted(COMPANY.events, key=lambda e: e["occurred_at"])]
    runs = sum(1 for a, b in itertools.pairwise(types) if a == b == "pmt_evidence_recorded")
    assert runs > 5 and "employee_left" in types


def test_batches_record_what_one_event_at_a_time_records(tmp_path):
    one_by_one = run(tmp_path / "one.db", LINES, batch=1)
    batched = run(tmp_path / "batched.db", LINES, batch=256)
    assert len(one_by_one) > 100
    assert batched == one_by_one


def test_schemes_computed_from_one_read_record_what_one_scheme_at_a_time_records(tmp_path):
    """PMT, NAO and objectives read only their own entitlements: computed from the read intéressement computed
    from, and recorded with it and the event in one transaction, they record what they record computed one at a
    time, each after the one before it was recorded: the same rows, explanations and chain."""
    apart = run(tmp_path / "apart.db", LINES, batch=1, together=False, chain=True)
    closes = sum(1 for line in LINES if '"period_closed"' in line)
    assert closes >= 12 and len(apart) > 100
    assert run(tmp_path / "together.db", LINES, batch=1, chain=True) == apart


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.permutations(range(len(LINES))), st.sampled_from([2, 7, 256]), st.booleans())
def test_in_any_order_batches_record_what_one_event_at_a_time_records(
    tmp_path_factory, order, batch, together
):
    lines = [LINES[i] for i in order]
    one_by_one = run(tmp_path_factory.mktemp("o") / "one.db", lines, batch=1, together=False)
    assert (
        run(tmp_path_factory.mktemp("o") / "batched.db", lines, batch=batch, together=together) == one_by_one
    )


@pytest.mark.parametrize("batch", [256])
def test_a_batch_whose_company_changed_meanwhile_is_computed_one_at_a_time(tmp_path, monkeypatch, batch):
    """Another publisher recorded for the company between the computation and the write: nothing of the batch is
    written from the stale read; each event is computed again alone (StaleRead)."""
    calls = {"n": 0}
    real = Ledger.record_dispatches

    def stale_once(self, records, checked=False):
        calls["n"] += 1
        if calls["n"] == 1 and records:
            from paybonus.store import StaleRead

            raise StaleRead("another publisher")
        return real(self, records, checked)

    monkeypatch.setattr(Ledger, "record_dispatches", stale_once)
    assert run(tmp_path / "stale.db", LINES, batch=batch) == run(tmp_path / "ref.db", LINES, batch=1)
    assert calls["n"] > 1


def test_a_failure_in_a_batch_leaves_the_others_recorded_together(tmp_path, monkeypatch):
    """One computation of a batch fails: its failure is recorded after the others' dispatches, which are recorded
    together from the batch's one read. Recorded before them, the failure lengthened the company's chain, which
    the check before recording compares: every other dispatch of the batch was computed again, alone. Once
    retried, the ledger holds what one event at a time gives."""
    from paybonus.store import StaleRead

    stale: list[int] = []
    real_record = Ledger.record_dispatches

    def counted(self, records, checked=False):
        try:
            return real_record(self, records, checked)
        except StaleRead:
            stale.append(len(records))
            raise

    sizes: list[int] = []
    real_batch = EventBus._compute_batch

    def batch_of(self, batch, *args):
        sizes.append(len(batch))
        try:
            return real_batch(self, batch, *args)
        finally:
            sizes.pop()

    failed: list[str] = []
    real_compute = EventBus._compute

    def fails_once_in_a_batch(self, event, scheme, digest=None):
        if not failed and sizes and sizes[-1] > 2:
            failed.append(event.id)
            raise RuntimeError("a plugin's fault")
        return real_compute(self, event, scheme, digest)

    monkeypatch.setattr(Ledger, "record_dispatches", counted)
    monkeypatch.setattr(EventBus, "_compute_batch", batch_of)
    monkeypatch.setattr(EventBus, "_compute", fails_once_in_a_batch)
    ledger = Ledger.create(tmp_path / "failed.db")
    store_company(ledger, COMPANY.data)
    b = EventBus(ledger, load_plugins(entry_points=False))
    b.publish_all(b.host.event_types.read_jsonl("batch", LINES))
    assert failed and [r["event_id"] for r in ledger.dispatches.failed()] == failed
    assert stale == []
    assert [o.status for o in b.retry()] == ["completed"]
    rows = {r["id"]: (r["amount_cents"], r["kind"], r["corrects"]) for r in ledger.entitlements.all()}
    b.close()
    ledger.close()
    monkeypatch.undo()
    reference = run(tmp_path / "one.db", LINES, batch=1)
    assert rows == {k: v[:3] for k, v in reference.items()}
