"""What the engine keeps to avoid a cost per company or per event (docs/performance.md, "the vendor month's cost
per company"): a formula parsed once per text, a company's configuration parsed once during an admission, its
digest read once per batch. Each must still see a change."""

import pytest
from attrs import evolve
from paybonus import EventBus, Ledger, load_plugins
from paybonus.bench import _results
from paybonus.caches import Caches
from paybonus.config import parse_company_toml
from paybonus.events import canonical_json
from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate
from paybonus.formulas import Formula, FormulaError
from paybonus.sources import store_company


def _company(employees):
    return generate(
        "FIXED",
        employees=employees,
        seed=3,
        schemes_toml=SAMPLE_SCHEMES,
        salary_schemes=True,
        results=_results(employees),
        csv_rows=False,
    )


COMPANY = _company(6)
TWELVE = _company(12)  # E0001 has no PMT evidence in the year and is in PMT's population


def load(ledger, toml=None, company=COMPANY):
    data = company.data if toml is None else evolve(company.data, config=parse_company_toml(toml, "test"))
    store_company(ledger, data)


def test_a_formula_is_parsed_once_per_text_and_names():
    a = Formula.parse("max(0, 0.05 * rcai - rsp)", {"rcai", "rsp"})
    assert Formula.parse("max(0, 0.05 * rcai - rsp)", ["rsp", "rcai"]) is a
    assert Formula.parse("max(0, 0.05 * rcai - rsp)", {"rcai", "rsp", "x"}) is not a


def test_a_formula_kept_for_some_names_is_still_refused_for_others():
    Formula.parse("0.1 * rcai", {"rcai"})
    with pytest.raises(FormulaError):
        Formula.parse("0.1 * rcai", {"chiffre_affaires"})
    for _ in range(2):  # a refused formula is refused every time (nothing kept)
        with pytest.raises(FormulaError):
            Formula.parse("1 / 0", set())


def test_the_names_may_be_given_once_as_an_iterator():
    f = Formula.parse("a + b", iter(["a", "b"]))
    assert f.names == {"a", "b"}


def test_pinned_digests_are_kept_by_a_nested_pin_and_dropped_after(tmp_path):
    ledger = Ledger.create(tmp_path / "l.db")
    load(ledger)
    caches = Caches(ledger)
    with caches.pinned():
        before = caches.company("FIXED")
        assert before is not None
        with caches.pinned():  # a worker's message pins; the bus pins each batch inside it
            pass
        load(ledger, before.toml + "\n# changed\n")
        assert caches.company("FIXED") is before  # the outer pin still holds
    after = caches.company("FIXED")
    assert after is not None and after.toml.endswith("# changed\n")
    ledger.close()


def test_admission_sees_the_configuration_as_it_is_at_each_admission(tmp_path):
    ledger = Ledger.create(tmp_path / "l.db")
    load(ledger)
    reader = EventBus(ledger, load_plugins(entry_points=False)).reader
    with reader.configurations_kept():
        first = reader.configuration("FIXED")
        first["schemes"].clear()  # the caller's own copy
        assert reader.configuration("FIXED")["schemes"]
        toml = ledger.companies.toml("FIXED")
        load(ledger, toml.replace("[schemes.prime_objectif]", "[schemes.prime_objectif]\nlabel_x = 1", 1))
        assert "label_x" in reader.configuration("FIXED")["schemes"]["prime_objectif"]  # a new text, parsed
    assert reader.configuration("FIXED") == reader.configuration("FIXED")
    reader.close()
    ledger.close()


def test_a_company_reloaded_between_two_publishes_is_computed_with_its_new_configuration(tmp_path):
    """The bus pins each company's digest for one batch only: the next publish reads it again."""
    ledger = Ledger.create(tmp_path / "l.db")
    load(ledger)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    events = sorted(COMPANY.events, key=lambda e: e["occurred_at"])
    lines = [e for e in events if e["type"] == "pmt_evidence_recorded"][:1]
    assert lines
    bus.publish_all(bus.host.event_types.read_jsonl("a", [canonical_json(lines[0])]))
    first = ledger.conn.execute("SELECT config_digest FROM dispatches").fetchall()
    toml = ledger.companies.toml("FIXED")
    load(ledger, toml + "\n# reloaded\n")
    later = [e for e in events if e["type"] == "pmt_evidence_recorded"][1:2]
    bus.publish_all(bus.host.event_types.read_jsonl("b", [canonical_json(later[0])]))
    digests = {r[0] for r in ledger.conn.execute("SELECT config_digest FROM dispatches")}
    assert len(first) >= 1 and len(digests) == 2
    assert ledger.companies.digest("FIXED") in digests
    bus.close()
    ledger.close()


def _first(kind):
    return next(e for e in sorted(COMPANY.events, key=lambda e: e["occurred_at"]) if e["type"] == kind)


@pytest.mark.parametrize("own_only", [True, False])
def test_a_new_event_is_recorded_with_its_first_dispatch_in_one_transaction(tmp_path, own_only):
    """The event and its first scheme's dispatch in one transaction; with them, the dispatches of the schemes after
    it that read only their own entitlements (`reads_own_entitlements_only`: PMT, NAO, objectives after
    intéressement), computed from the same read. A scheme that does not declare it gets its own transaction."""
    ledger = Ledger.create(tmp_path / "l.db")
    load(ledger)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    if not own_only:
        bus.host.schemes = {
            n: evolve(s, reads_own_entitlements_only=False) for n, s in bus.host.schemes.items()
        }
    commits = []
    ledger.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    [(_, event)] = bus.host.event_types.read_jsonl("a", [canonical_json(_first("period_closed"))])
    out = bus.publish(event)
    ledger.conn.set_trace_callback(None)
    assert len(out.dispatches) == 4 and all(d.status == "completed" for d in out.dispatches)
    # one for the event and every dispatch; else one a dispatch, not one more for the event alone
    assert len(commits) == (1 if own_only else len(out.dispatches))
    bus.close()
    ledger.close()


def test_another_writer_meanwhile_makes_the_event_published_apart_with_nothing_lost(tmp_path):
    """SQLite holds no company's lock between transactions: another process may write the company while the first
    scheme computes. The transaction that would record the event and that dispatch then writes nothing, and the
    event is recorded and dispatched as without it: every dispatch completed, none failed, the chain valid."""
    from paybonus.audit import verify

    path = tmp_path / "l.db"
    ledger = Ledger.create(path)
    load(ledger)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    apart, real_compute, real_apart = [], bus._compute, bus._publish_apart
    state = {"reloaded": False}

    def compute(event, scheme, digest=None):
        if not state["reloaded"]:
            state["reloaded"] = True
            other = Ledger.open(path)
            load(other, ledger.companies.toml("FIXED") + "\n# another writer\n")
            other.close()
        return real_compute(event, scheme, digest)

    bus._compute = compute  # type: ignore[method-assign]
    bus._publish_apart = lambda e: apart.append(e.id) or real_apart(e)  # type: ignore[method-assign]
    [(_, event)] = bus.host.event_types.read_jsonl("a", [canonical_json(_first("period_closed"))])
    out = bus.publish(event)
    assert apart == [out.event_id] and not out.duplicate
    assert out.dispatches and all(d.status == "completed" for d in out.dispatches)
    assert not ledger.dispatches.failed()
    assert ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    digests = {r[0] for r in ledger.conn.execute("SELECT config_digest FROM dispatches")}
    assert digests == {ledger.companies.digest("FIXED")}  # computed again with what the other writer loaded
    assert verify(ledger, bus.host.schemes, params=bus.params).ok
    bus.close()
    ledger.close()


def _year_then_new_evidence(path, race):
    """The sample year published, then one new PMT evidence event (after the close, so the award is computed again
    from every evidence event of the employee, this one included); with `race`, another writer reloads the company
    while that event's scheme computes (the event goes `_publish_apart`), without, the same reload comes first."""
    ledger = Ledger.create(path)
    load(ledger, company=TWELVE)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    events = sorted(TWELVE.events, key=lambda e: e["occurred_at"])
    bus.publish_all(bus.host.event_types.read_jsonl("year", [canonical_json(e) for e in events]))
    evidence = [e for e in events if e["type"] == "pmt_evidence_recorded"]
    year = max(e["payload"]["period"]["end"][:4] for e in events if e["type"] == "period_closed")
    known = {e["payload"]["employee"] for e in evidence}
    employees = sorted(
        {r[0] for r in ledger.conn.execute("SELECT employee FROM contracts WHERE company='FIXED'")}
    )
    employee = next(e for e in employees if e not in known)
    assert employee == "E0001"
    new = {
        "id": "pmt-new",
        "type": "pmt_evidence_recorded",
        "company": "FIXED",
        "occurred_at": f"{year}-06-01T09:00:00+02:00",
        "payload": {
            "employee": employee,
            "criterion": "certification",
            "obtained_on": f"{year}-06-01",
            "approver": "RT",
            "approved": True,
            "reference": "X",
        },
    }
    reloaded = ledger.companies.toml("FIXED") + "\n# another writer\n"
    if race:
        real, state = bus._compute, {"done": False}

        def compute(event, scheme, digest=None):
            if not state["done"]:
                state["done"] = True
                other = Ledger.open(path)
                load(other, reloaded, TWELVE)
                other.close()
            return real(event, scheme, digest)

        bus._compute = compute  # type: ignore[method-assign]
    else:
        load(ledger, reloaded, TWELVE)
    [(_, event)] = bus.host.event_types.read_jsonl("new", [canonical_json(new)])
    out = bus.publish(event)
    rows = ledger.conn.execute(
        "SELECT employee, kind, amount_cents, explanation FROM entitlements WHERE event_id = 'pmt-new' ORDER BY seq"
    ).fetchall()
    bus.close()
    ledger.close()
    return out, rows


def test_an_event_published_apart_after_another_writer_is_counted_once(tmp_path):
    """Found by review (2026-12-01): the event went `_publish_apart` while still shown as pending, so its scheme
    saw it twice (recorded, and pending): one certification counted as two, an award of another level (a
    5 584.80 € overpayment that `audit verify` cannot see, the explanation holding the doubled score). The
    amounts and explanations must be those of the same reload made before the publish."""
    raced, rows = _year_then_new_evidence(tmp_path / "race.db", race=True)
    calm, expected = _year_then_new_evidence(tmp_path / "calm.db", race=False)
    assert [d.status for d in raced.dispatches] == [d.status for d in calm.dispatches] == ["completed"]
    assert rows and rows == expected


def test_a_pending_event_recorded_meanwhile_is_shown_once(tmp_path):
    """The reader shows a pending event as recorded; once it is recorded for real (by this or another publisher),
    it is listed once, not twice."""
    ledger = Ledger.create(tmp_path / "l.db")
    load(ledger)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    [(_, event)] = bus.host.event_types.read_jsonl("a", [canonical_json(_first("pmt_evidence_recorded"))])
    bus.publish(event)
    employee = event.subject("employee")
    with bus.reader.pending([event]):
        shown = bus.reader.events("FIXED", event.type, employee)
    assert [e.id for e in shown] == [event.id]
    bus.close()
    ledger.close()


def test_a_first_scheme_failing_while_another_publisher_records_the_event_is_a_duplicate(tmp_path):
    """The first scheme fails while another publisher records the same event: this publisher recorded nothing, so
    its outcome is a duplicate (as `_publish_apart` says), no failed dispatch is left, the event recorded once."""
    path = tmp_path / "l.db"
    ledger = Ledger.create(path)
    load(ledger)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    line = canonical_json(_first("pmt_evidence_recorded"))
    real, state = bus._compute, {"done": False}

    def compute(event, scheme, digest=None):
        if not state["done"]:
            state["done"] = True
            other = Ledger.open(path)
            other_bus = EventBus(other, load_plugins(entry_points=False))
            other_bus.publish_all(other_bus.host.event_types.read_jsonl("b", [line]))
            other_bus.close()
            other.close()
            raise RuntimeError("plugin exploded")
        return real(event, scheme, digest)

    bus._compute = compute  # type: ignore[method-assign]
    [(_, event)] = bus.host.event_types.read_jsonl("a", [line])
    out = bus.publish(event)
    assert out.duplicate and not ledger.dispatches.failed()
    count = "SELECT COUNT(*) FROM audit_log WHERE action = 'event.recorded'"
    assert ledger.conn.execute(count).fetchone()[0] == 1
    bus.close()
    ledger.close()


def test_another_publisher_recording_the_same_id_with_other_content_meanwhile_is_refused(tmp_path):
    """Admitted as new, the event is recorded meanwhile by another publisher with other content: refused (one
    line, as admission refuses it), none of its schemes computed from content the ledger does not hold."""
    from paybonus.errors import UserError

    path = tmp_path / "l.db"
    ledger = Ledger.create(path)
    load(ledger)
    bus = EventBus(ledger, load_plugins(entry_points=False))
    mine = _first("pmt_evidence_recorded")
    theirs = {**mine, "payload": {**mine["payload"], "reference": "another"}}
    real, state = bus._compute, {"done": False}

    def compute(event, scheme, digest=None):
        if not state["done"]:
            state["done"] = True
            other = Ledger.open(path)
            other_bus = EventBus(other, load_plugins(entry_points=False))
            other_bus.publish_all(other_bus.host.event_types.read_jsonl("b", [canonical_json(theirs)]))
            other_bus.close()
            other.close()
        return real(event, scheme, digest)

    bus._compute = compute  # type: ignore[method-assign]
    [(_, event)] = bus.host.event_types.read_jsonl("a", [canonical_json(mine)])
    with pytest.raises(UserError, match="already recorded with different content"):
        bus.publish(event)
    references = ledger.conn.execute("SELECT payload FROM events").fetchall()
    assert len(references) == 1 and "another" in references[0][0]
    assert ledger.conn.execute("SELECT COUNT(*) FROM dispatches").fetchone()[0] == 1  # theirs, not ours
    bus.close()
    ledger.close()
