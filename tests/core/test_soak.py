"""Soak: a long run of mixed events through one ledger; the audit verifies; the database size is reported.

CI runs a reduced soak (about 300 events); `pytest -m heavy` runs 1 000 events and more crash kill points.
"""

import json
import os
import random

import pytest
from paybonus import EventBus, Ledger, load_plugins
from paybonus.audit import verify
from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate
from paybonus.sources import store_company


def soak(tmp_path, target: int) -> dict:
    ledger = Ledger.create(tmp_path / "soak.db")
    bus = EventBus(ledger, load_plugins(entry_points=False))
    rng = random.Random(7)
    lines: list[str] = []
    n = 0
    while len(lines) < target * 2 // 3:
        g = generate(
            f"S{n:02d}",
            employees=40,
            seed=n,
            schemes_toml=SAMPLE_SCHEMES,
            salary_schemes=True,
            results={"rcai": "250000", "rsp": "0"},
        )
        store_company(ledger, g.data)
        lines += [json.dumps(e) for e in g.events]
        n += 1
    rng.shuffle(lines)  # mixed types, any order
    bus.publish_all(bus.host.event_types.read_jsonl("soak", lines))
    # then the follow-up: statements issued, choices, payments (some late), until the target is reached
    follow: list[dict] = []
    budget = target - len(lines)
    rows = ledger.entitlements.rows()
    epargne = [r for r in rows if r["social_regime"] == "epargne_salariale" and r["kind"] == "principal"]
    for i, r in enumerate(epargne[: budget // 4]):
        follow.append(
            {
                "id": f"st-{i}",
                "type": "statement_issued",
                "company": r["company"],
                "occurred_at": "2026-04-01T09:00:00+02:00",
                "payload": {"entitlement": r["id"], "issued_on": "2026-04-01"},
            }
        )
        if i % 2 == 0:
            follow.append(
                {
                    "id": f"ch-{i}",
                    "type": "option_chosen",
                    "company": r["company"],
                    "occurred_at": "2026-04-05T09:00:00+02:00",
                    "payload": {"entitlement": r["id"], "choice": "placed", "chosen_on": "2026-04-05"},
                }
            )
    for i, r in enumerate(x for x in rows if x["kind"] == "principal" and x["amount_cents"] > 1):
        if len(follow) >= budget:
            break
        mode = "placed" if r["social_regime"] == "epargne_salariale" and i % 2 else "paid"
        late = "2026-07-15" if r["scheme"] == "interessement" and i % 5 == 0 else "2026-05-20"
        follow.append(
            {
                "id": f"pay-{i}",
                "type": "payment_recorded",
                "company": r["company"],
                "occurred_at": f"{late}T09:00:00+02:00",
                "payload": {
                    "entitlement": r["id"],
                    "amount_cents": r["amount_cents"] // 2,
                    "paid_on": late,
                    "mode": mode,
                },
            }
        )
    bus.params = bus.params.with_file(_tmop(tmp_path))  # late payments in 2026 need that half-year's TMOP
    bus.publish_all(bus.host.event_types.read_jsonl("follow", [json.dumps(e) for e in follow]))
    rep = verify(ledger, bus.host.schemes)
    types = dict(ledger.conn.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())
    size = (tmp_path / "soak.db").stat().st_size
    failed = len(ledger.dispatches.failed())
    ledger.close()
    print(f"soak: {sum(types.values())} events {types}, database {size / 2**20:.1f} MiB")
    return {"ok": rep.ok, "problems": [str(p) for p in rep.problems], "types": types, "failed": failed}


def _tmop(tmp_path):
    f = tmp_path / "tmop.toml"
    f.write_text(
        '[tmop]\nunit = "rate"\nsource = "test value"\nvalues = [{ semester = "2025-S2", jo = 2026-01-15, from = 2026-01-16, value = "0.035" }]\n'
    )
    return f


def test_soak_reduced(tmp_path):
    r = soak(tmp_path, int(os.environ.get("PAYBONUS_SOAK_EVENTS", "300")))
    assert r["ok"], r["problems"]
    assert r["failed"] == 0
    assert len(r["types"]) >= 7 and sum(r["types"].values()) >= 250


@pytest.mark.heavy
def test_soak_1000_events(tmp_path):
    r = soak(tmp_path, 1000)
    assert r["ok"], r["problems"]
    assert r["failed"] == 0 and sum(r["types"].values()) >= 1000
