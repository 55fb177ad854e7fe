"""Admission refuses an event about an employee the company does not have (0980625), but a company head of an
intéressement agreement (`company_heads`, L3312-3) has no contract: before their first entitlement the check
refused their advance, which 0980625's parent recorded and computed (an advance entitlement for DIR-1)."""

import json

from helpers.cli import run, sample_copy

HEAD = """advances = true

[[schemes.interessement.company_heads]]
id = "DIR-1"
role = "head"
in_office_from = 2019-01-01
income = { 2024 = "100000.00" }
"""


def _advance(employee: str) -> str:
    return json.dumps(
        {
            "company": "DURAND",
            "id": f"adv-{employee}-q2",
            "occurred_at": "2025-06-15T10:00:00+02:00",
            "type": "interessement_advance_granted",
            "payload": {
                "employee": employee,
                "period": "2025",
                "amount_cents": 50000,
                "pay_on": "2025-06-15",
                "consented_on": "2025-06-01",
            },
        }
    )


def test_an_advance_to_a_company_head_is_admitted_an_unknown_id_still_refused(tmp_path):
    company = sample_copy(tmp_path / "co", with_scheme=False)
    toml = (company / "company.toml").read_text(encoding="utf-8")
    (company / "company.toml").write_text(
        toml.replace('reliquat = "redistribute"\n', 'reliquat = "redistribute"\n' + HEAD, 1), encoding="utf-8"
    )
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("load", str(company), cwd=tmp_path).returncode == 0
    (tmp_path / "head.jsonl").write_text(_advance("DIR-1") + "\n", encoding="utf-8")
    ok = run("publish", str(tmp_path / "head.jsonl"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(run("entitlements", "--format", "json", cwd=tmp_path).stdout)
    assert [(e["employee"], e["kind"], e["amount_cents"]) for e in listed] == [("DIR-1", "advance", 50000)]

    (tmp_path / "typo.jsonl").write_text(_advance("DIR-2") + "\n", encoding="utf-8")
    refused = run("publish", str(tmp_path / "typo.jsonl"), cwd=tmp_path)
    assert refused.returncode == 2
    assert "payload.employee: 'DIR-2' is not an employee of 'DURAND'" in refused.stderr


def test_someone_with_only_a_contract_elsewhere_in_the_group_is_not_an_employee(tmp_path):
    """docs/data-format.md: someone with only `group_company` rows is not an employee of this company: a departure
    naming them was recorded (it computed nothing) before the contracts' group rows were left out of the check."""
    company = sample_copy(tmp_path / "co", with_scheme=False)
    rows = (company / "employees.csv").read_text(encoding="utf-8").splitlines()
    rows = [rows[0] + ",group_company"] + [r + "," for r in rows[1:]]
    rows.append("G0001,Ancien Filiale,2015-01-01,2019-12-31,employe,siege,FILIALE")
    (company / "employees.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert run("init", cwd=tmp_path).returncode == 0
    loaded = run("load", str(company), cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    left = {
        "company": "DURAND",
        "id": "left-G0001",
        "occurred_at": "2025-06-30T18:00:00+02:00",
        "type": "employee_left",
        "payload": {"employee": "G0001", "left_on": "2025-06-30"},
    }
    (tmp_path / "left.jsonl").write_text(json.dumps(left) + "\n", encoding="utf-8")
    refused = run("publish", str(tmp_path / "left.jsonl"), cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout
    assert "payload.employee: 'G0001' is not an employee of 'DURAND'" in refused.stderr
