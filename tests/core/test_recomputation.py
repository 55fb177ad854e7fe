"""`recomputation_requested`: a ledger computed by an earlier version is computed again with the installed rules;
the differences are corrections citing the request, nothing recorded is edited, and the totals equal a fresh
computation (CHANGELOG: recomputing 2025 after the legal review of issue 16)."""

import gzip
import json
from pathlib import Path

import pytest
from paybonus import Paybonus
from paybonus.errors import UserError
from paybonus.fixtures import sample_dir

OLD = Path(__file__).parent.parent / "data" / "ledger-0.1.0-demo.db.gz"
SCHEMES = ("interessement", "prime_objectif", "prime_nao")


def request(scheme, period="2025", id=None):
    return json.dumps(
        {
            "id": id or f"recompute-{scheme}-{period}",
            "type": "recomputation_requested",
            "company": "DURAND",
            "occurred_at": "2026-07-01T09:00:00+02:00",
            "payload": {
                "scheme": scheme,
                "period": period,
                "reason": "paybonus 1.1: legal review (issue 16)",
            },
        }
    )


def totals(app, scheme):
    out: dict[str, int] = {}
    for e in app.entitlements(company="DURAND", scheme=scheme):
        out[e.employee] = out.get(e.employee, 0) + e.amount_cents
    return out


def test_the_0_1_0_demo_ledger_recomputed_equals_a_fresh_computation(tmp_path):
    # the sample company's 2025 amounts do not change under the legal review: the request records nothing,
    # and the ledger still verifies
    old = tmp_path / "old.db"
    old.write_bytes(gzip.decompress(OLD.read_bytes()))
    with Paybonus.create(tmp_path / "fresh.db") as fresh:
        fresh.load_company(sample_dir())
        fresh.publish(sample_dir() / "events.jsonl")
        expected = {s: totals(fresh, s) for s in SCHEMES}
    with Paybonus.open(old) as app:
        app.load_company(sample_dir())
        events = tmp_path / "recompute.jsonl"
        events.write_text("".join(request(s) + "\n" for s in SCHEMES))
        out = app.publish(events)
        assert out.counts["failed"] == 0 and out.counts["entitlements"] == 0
        assert {s: totals(app, s) for s in SCHEMES} == expected
        assert app.verify().ok


V1 = """
[schemes.interessement]
starts_on = 2025-01-01
formula = "rcai"
{cap}
[[schemes.interessement.distribution]]
criterion = "salary"
share = "1"

[schemes.prime_nao]
[[schemes.prime_nao.awards]]
id = "nao-2025"
reference_period = "2025"
percent_of_gross = "0.02"
{gross}

[schemes.prime_objectif]
[[schemes.prime_objectif.plans]]
id = "ventes-lyon"
members = ["A"]
figures = ["ca"]
formula = "step(ca, [[0, 0], [50000, 0.10], [60000, 0.20]]) * ca"
max_amount = "15000.00"
communicated_on = 2025-01-06
{grace}
"""


def upgrade_company(tmp_path, former: bool):
    """A company whose 2025 amounts change with 1.1.0: A hired on 1 July at 20 000.00 (individual cap, I-33), B on
    maternity leave March-June paid by allowances (NAO % of gross, N-4), objectives given on 6 January (O-2).
    `former`: the keys that reproduce the 1.0.0 computation exactly."""
    from helpers.companies import company, person

    head = '[company]\nid = "ACME"\nname = "Acme"\nfiscal_year_start = "01-01"\nheadcount = 10\n'
    text = head + V1.format(
        cap='cap_proration = "none"' if former else "",
        gross='gross_basis = "actual"' if former else "",
        grace="communication_grace_days = 0" if former else "",
    )
    b = person("B", 100_000, absences=(("maternity", "2025-03-01", "2025-06-30"),))
    data = company([person("A", 2_000_000, start="2025-07-01"), b], text)
    spring = ("2025-03-01", "2025-04-01", "2025-05-01", "2025-06-01")
    data.pay_lines[:] = [(e, m, 0 if e == "B" and m in spring else g, *r) for e, m, g, *r in data.pay_lines]
    d = tmp_path / ("former" if former else "installed")
    (d / "payroll").mkdir(parents=True, exist_ok=True)
    (d / "company.toml").write_text(text)
    (d / "employees.csv").write_text(
        "employee_id,contract_start,contract_end\n"
        + "".join(f"{c[0]},{c[1]},{c[2] or ''}\n" for c in data.contracts)
    )
    for month in sorted({r[1] for r in data.pay_lines}):
        lines = [r for r in data.pay_lines if r[1] == month]
        (d / "payroll" / f"{month[:7]}.csv").write_text(
            "employee_id,gross,base_salary,contract_hours\n"
            + "".join(f"{r[0]},{r[2] / 100:.2f},{r[3] / 100:.2f},{r[4]}\n" for r in lines)
        )
    (d / "absences.csv").write_text("employee_id,kind,start,end\nB,maternity,2025-03-01,2025-06-30\n")
    return d


def year_events(tmp_path):
    from paybonus.events import write_jsonl
    from paybonus.fixtures.pytest_plugin import EventFactory

    f = EventFactory("ACME")
    events = [f.period_closed(f"2025-{m:02d}") for m in range(1, 13)]
    events.append(f.results_published("2025", {"rcai": "50000"}, id="results-2025"))
    out = tmp_path / "year.jsonl"
    out.write_text(
        write_jsonl(events)
        + json.dumps(
            {
                "id": "objectives-2025",
                "type": "objective_results",
                "company": "ACME",
                "occurred_at": "2026-01-10T10:00:00+01:00",
                "payload": {"plan": "ventes-lyon", "period": "2025", "employees": {"A": {"ca": "55000"}}},
            }
        )
        + "\n"
    )
    return out


def acme_request(scheme):
    return request(scheme).replace('"DURAND"', '"ACME"')


def test_an_upgrade_is_recorded_as_corrections_citing_the_request(tmp_path):
    # CHANGELOG 1.1.0: a company computed with the former rules asks for 2025 again; each difference is a
    # correction that cites the request and its reason; the totals equal a fresh computation with 1.1.0
    events = year_events(tmp_path)
    with Paybonus.create(tmp_path / "fresh.db") as fresh:
        fresh.load_company(upgrade_company(tmp_path, former=False))
        fresh.publish(events)
        expected = {s: totals_of(fresh, s) for s in SCHEMES}
    with Paybonus.create(tmp_path / "ledger.db") as app:
        app.load_company(upgrade_company(tmp_path, former=True))
        app.publish(events)
        before = {r["id"]: (r["amount_cents"], r["digest"]) for r in app.entitlement_rows()}
        formerly = {s: totals_of(app, s) for s in SCHEMES}
        assert formerly != expected
        app.load_company(upgrade_company(tmp_path, former=False))  # the installed defaults
        f = tmp_path / "recompute.jsonl"
        f.write_text("".join(acme_request(s) + "\n" for s in SCHEMES))
        assert app.publish(f).counts["failed"] == 0
        rows = app.entitlement_rows()
        assert all((r["amount_cents"], r["digest"]) == before[r["id"]] for r in rows if r["id"] in before)
        new = {(r["scheme"], r["employee"]): r for r in rows if r["id"] not in before}
        # I-33: pool 20 % x (120 000.00 + 8 000.00) = 25 600.00, A's salary share 120 000 / 132 000 (B's maternity
        # months reconstituted, I-26) = 23 272.73, now capped at 35 325.00 x 184 / 365 = 17 807.67 (the rest is
        # kept, reliquat = "keep"); N-4: B's four maternity months at full salary: 0.02 x 4 000.00 = +80.00;
        # O-2: objectives of 6 January are timely: 5 500.00 instead of the maximum, x 184/365 for A
        assert {k: r["amount_cents"] for k, r in new.items()} == {
            ("interessement", "A"): 1_780_767 - 2_327_273,
            ("prime_nao", "B"): 8_000,
            ("prime_objectif", "A"): 550_000 * 184 // 365 - 1_500_000 * 184 // 365,
        }
        for r in new.values():
            assert r["kind"] == "correction" and r["corrects"] in before
            why = app.ledger.entitlements.explanation(r)["inputs"]["recomputation"]
            assert why["request"] == f"recompute-{r['scheme']}-2025" and "issue 16" in why["reason"]
        assert {s: totals_of(app, s) for s in SCHEMES} == expected
        assert app.verify().ok
        # asking again records nothing: the period already follows the installed rules
        again = tmp_path / "again.jsonl"
        again.write_text(acme_request("interessement").replace("recompute-interessement", "again") + "\n")
        assert app.publish(again).counts["entitlements"] == 0


def totals_of(app, scheme):
    out: dict[str, int] = {}
    for e in app.entitlements(company="ACME", scheme=scheme):
        out[e.employee] = out.get(e.employee, 0) + e.amount_cents
    return out


def _file(tmp_path, line):
    f = tmp_path / "one.jsonl"
    f.write_text(line + "\n")
    return f


def test_a_request_for_a_scheme_the_company_does_not_run_is_refused(tmp_path):
    with Paybonus.create(tmp_path / "l.db") as app:
        app.load_company(sample_dir())
        with pytest.raises(UserError, match=r"payload\.scheme: the company does not run 'participation'"):
            app.publish(_file(tmp_path, request("participation")))
        # the company runs PMT, whose computation does not change with the rules: it was "completed", doing nothing
        with pytest.raises(
            UserError,
            match=r"payload\.scheme: 'pmt' does not compute a period again \(schemes that do: interessement, "
            r"interessement_projet, prime_nao, prime_objectif\)",
        ):
            app.publish(_file(tmp_path, request("pmt")))
        assert app.ledger.events.digest("DURAND", "recompute-pmt-2025") is None
        f = tmp_path / "bad.jsonl"
        f.write_text(request("interessement").replace("paybonus 1.1: legal review (issue 16)", " ") + "\n")
        with pytest.raises(UserError, match=r"payload\.reason: say why"):
            app.publish(f)
