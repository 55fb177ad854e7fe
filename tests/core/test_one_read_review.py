"""Review of 8fddf81: schemes computed from one read (`reads_own_entitlements_only`) record exactly what one scheme
at a time records, whatever fails where: rows, chain order, dispatch statuses and errors, outcomes, notifications
and the bus's log lines."""

import time
import uuid

import pytest
from attrs import evolve
from helpers import plugins as testplugins
from paybonus import EventBus, Ledger, load_plugins
from paybonus import bus as busmod
from paybonus.fixtures.pytest_plugin import audit_ok, make_company
from paybonus.hooks import (
    EntitlementDraft,
    Explanation,
    SchemeDescriptor,
    SchemeResult,
    SocialRegime,
    hookimpl,
)
from paybonus.sources import store_company

FAIL: dict[str, str] = {}  # scheme -> "raise" | "draft"
NOTIFIED: list[tuple[str, str, int]] = []


def _handler(name, reads_all=False):
    def compute(event, ctx):
        period = event.payload.period
        if reads_all:
            n = len(ctx.entitlements(period=period))
        else:
            n = len(ctx.entitlements(scheme=name, period=period))
        how = FAIL.get(name)
        if how == "raise":
            raise RuntimeError(f"{name} broke")
        if how == "sleep":
            time.sleep(1.5)
        drafts = []
        for i, emp in enumerate(ctx.population(period).employees[:3]):
            amount = 1000 * (i + 1) + n
            expl = Explanation({"n": n}, {"amount_cents": amount}, ["amount"], ["test"])
            drafts.append(EntitlementDraft(emp.id, period, 12.5 if how == "draft" else amount, expl))
        return SchemeResult(drafts, summary={"n": n})

    return compute


class Schemes:
    @hookimpl
    def paybonus_register_schemes(self):
        return [
            SchemeDescriptor(
                name=name,
                version="1",
                label=name,
                handlers={"period_closed": _handler(name, reads_all=name.startswith("d"))},
                recompute=lambda e: int(e.parameters["amount_cents"]),
                dsn=testplugins.DSN,
                social_regime=SocialRegime.SALARY,
                reads_own_entitlements_only=name in ("b_own", "c_own"),
            )
            for name in ("a_first", "b_own", "c_own", "d_all")
        ]

    @hookimpl
    def paybonus_entitlements_recorded(self, event, scheme, entitlement_ids):
        NOTIFIED.append((event.id, scheme, len(entitlement_ids)))


TOML = "".join(f"[schemes.{n}]\n" for n in ("a_first", "b_own", "c_own", "d_all"))


class Recorder:
    def __init__(self):
        self.lines = []

    def _add(self, level):
        def add(event, **kw):
            kw.pop("duration_ms", None)
            kw.pop("hash", None)  # the chain hashes wall-clock times
            self.lines.append((level, event, tuple(sorted(kw.items()))))

        return add

    def __getattr__(self, level):
        return self._add(level)


def run(path, together, fail, monkeypatch, held=False):
    FAIL.clear()
    FAIL.update(fail)
    NOTIFIED.clear()
    rec = Recorder()
    monkeypatch.setattr(busmod, "log", rec)
    ledger = Ledger.create(path)
    store_company(ledger, make_company(schemes_toml=TOML).data)
    b = EventBus(ledger, load_plugins(extra=[Schemes()], entry_points=False, allow=None))
    if any(v == "sleep" for v in fail.values()):
        b.timeout = 0.5
    if not together:
        b.host.schemes = {n: evolve(s, reads_own_entitlements_only=False) for n, s in b.host.schemes.items()}
    from paybonus.fixtures.pytest_plugin import EventFactory

    events = EventFactory()

    def publish(e):
        if not held:
            return b.publish(e)
        with ledger.holding("ACME"):  # a worker's message
            return b.publish(e)

    groups = []
    real = EventBus._one_read
    monkeypatch.setattr(EventBus, "_one_read", staticmethod(lambda s: groups.append(len(real(s))) or real(s)))
    outs = [publish(events.period_closed("2025-01")), publish(events.period_closed("2025-02"))]
    FAIL.clear()
    retried = b.retry()
    state = {
        "outcomes": outs,
        "retried": retried,
        "rows": ledger.conn.execute(
            "SELECT id, scheme, amount_cents, digest, explanation FROM entitlements ORDER BY seq"
        ).fetchall(),
        "chain": ledger.conn.execute("SELECT action, ref FROM audit_log ORDER BY company, n").fetchall(),
        "dispatches": ledger.conn.execute(
            "SELECT event_id, scheme, status, attempts, error FROM dispatches ORDER BY 1, 2"
        ).fetchall(),
        "notified": list(NOTIFIED),
        "logs": rec.lines,
    }
    assert groups == ([3, 3] if together else [1, 1])  # the path under review was taken
    audit_ok(ledger, b)
    b.close()
    ledger.close()
    return {k: [tuple(r) for r in v] if k in ("rows", "chain", "dispatches") else v for k, v in state.items()}


@pytest.mark.parametrize(
    "fail",
    [
        {},
        {"a_first": "raise"},
        {"b_own": "raise"},
        {"c_own": "raise"},
        {"a_first": "draft"},
        {"b_own": "draft"},
        {"c_own": "draft"},
        {"b_own": "raise", "c_own": "draft"},
        {"a_first": "draft", "c_own": "raise"},
        {"d_all": "raise"},
        {"b_own": "sleep"},
        {"c_own": "sleep"},
        {"b_own": "draft", "c_own": "sleep"},
    ],
    ids=lambda f: "-".join(f"{k}:{v}" for k, v in f.items()) or "none",
)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql-held"])
def test_one_read_records_what_one_scheme_at_a_time_records(request, tmp_path, monkeypatch, fail, backend):
    if backend == "sqlite":
        targets, held = [tmp_path / "apart.db", tmp_path / "together.db"], False
    else:
        import psycopg

        db = request.getfixturevalue("pg_database")
        targets, held = [], True
        for _ in range(2):
            schema = f"t_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(db, autocommit=True) as c:
                c.execute(f"CREATE SCHEMA {schema}")
            targets.append(f"{db}?options=-csearch_path%3D{schema}")
    apart = run(targets[0], False, fail, monkeypatch, held)
    together = run(targets[1], True, fail, monkeypatch, held)
    for key in apart:
        assert together[key] == apart[key], key


def test_another_writer_during_the_group_publishes_it_one_scheme_at_a_time(tmp_path, monkeypatch):
    """SQLite, no held lock: another process records an event of the company while a declaring scheme computes
    (after the first computed): nothing of the group is written, the event is published apart (shown once, not
    also pending), every scheme computed after the other writer's event, and the ledger verifies."""
    FAIL.clear()
    NOTIFIED.clear()
    rec = Recorder()
    monkeypatch.setattr(busmod, "log", rec)
    path = tmp_path / "l.db"
    ledger = Ledger.create(path)
    store_company(ledger, make_company(schemes_toml=TOML).data)
    host = load_plugins(extra=[Schemes()], entry_points=False, allow=None)
    b = EventBus(ledger, host)
    from paybonus.fixtures.pytest_plugin import EventFactory

    events = EventFactory()
    other_ledger = Ledger.open(path)
    other = EventBus(other_ledger, host)
    real = busmod.EventBus._compute
    seen = []

    def compute(self, event, scheme, digest=None):
        if self is b and scheme.name == "b_own" and not seen:
            seen.append(other.publish(events.results_published("2025-01", {"rcai": "10"}, id="r1")))
        return real(self, event, scheme, digest)

    monkeypatch.setattr(busmod.EventBus, "_compute", compute)
    out = b.publish(events.period_closed("2025-01"))
    assert seen and [d.status for d in out.dispatches] == ["completed"] * 4
    assert any(line[1] == "bus.dispatch.stale" for line in rec.lines)
    chain = [tuple(r) for r in ledger.conn.execute("SELECT action, ref FROM audit_log ORDER BY n")]
    actions = [a for a, ref in chain if a in ("event.recorded", "dispatch.completed")]
    assert actions == ["event.recorded", "event.recorded"] + ["dispatch.completed"] * 4
    # each scheme read its own entitlements once: none recorded twice
    assert ledger.conn.execute("SELECT COUNT(*) FROM entitlements").fetchone()[0] == 12
    audit_ok(ledger, b)
    other.close()
    other_ledger.close()
    b.close()
    ledger.close()
