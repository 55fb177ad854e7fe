"""Small controlled companies for the intéressement tests."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from paybonus import EventBus, Ledger, load_plugins
from paybonus.calendar import Period
from paybonus.config import parse_company_toml
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.sources import CompanyData, store_company

AGREEMENT = """
[schemes.interessement]
starts_on = {starts_on}
period_months = {period_months}
formula = "{formula}"
seniority_months = {seniority}
reliquat = "{reliquat}"
{extra}
{distribution}
"""


def toml(
    formula: str = "rcai",
    distribution: dict[str, str] | None = None,
    seniority: int = 0,
    reliquat: str = "keep",
    period_months: int = 12,
    starts_on: str = "2024-01-01",
    headcount: int = 10,
    fiscal_year_start: str = "01-01",
    extra: str = "",
    per: bool = False,
) -> str:
    dist = distribution or {"salary": "1"}
    blocks = "\n".join(
        f'[[schemes.interessement.distribution]]\ncriterion = "{c}"\nshare = "{s}"\n' for c, s in dist.items()
    )
    head = (
        f'[company]\nid = "ACME"\nname = "Acme"\nfiscal_year_start = "{fiscal_year_start}"\n'
        f"headcount = {headcount}\nhas_savings_plan = true\n" + ("has_company_per = true\n" if per else "")
    )
    return head + AGREEMENT.format(
        starts_on=starts_on,
        period_months=period_months,
        formula=formula,
        seniority=seniority,
        reliquat=reliquat,
        extra=extra,
        distribution=blocks,
    )


def person(
    emp: str,
    monthly: int,
    start: str = "2020-01-01",
    end: str | None = None,
    hours: str = "151.67",
    absences: tuple[tuple[str, str, str], ...] = (),
    reconstituted: dict[str, int] | None = None,
    ap: dict[str, tuple[str, int]] | None = None,
    prior: tuple[str, str] | None = None,
    category: str = "",
    group: tuple[str, str] | None = None,
    cp_caisse: dict[str, int] | None = None,
    ap_subject: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "id": emp,
        "monthly": monthly,
        "start": start,
        "end": end,
        "hours": hours,
        "absences": absences,
        "reconstituted": reconstituted or {},
        "ap": ap or {},
        "prior": prior,
        "category": category,
        "group": group,  # a contract with another company of the group (seniority only, D-12)
        "cp_caisse": cp_caisse or {},  # month -> caisse de congés payés indemnity (I-18)
        "ap_subject": ap_subject or {},  # month -> part of the AP indemnity subject to contributions (I-19)
    }


def company(
    people: list[dict[str, Any]], company_toml: str, year: int = 2025, months: int = 12
) -> CompanyData:
    contracts, pay, absences = [], [], []
    first = date(year, 1, 1) if months == 12 else date(year - 1, 7, 1)
    span = Period(first, date(year, 12, 31) if months == 12 else date(year, 6, 30))
    for p in people:
        if p["prior"]:
            contracts.append((p["id"], p["prior"][0], p["prior"][1], "", "", ""))
        if p.get("group"):
            contracts.append((p["id"], p["group"][0], p["group"][1], "", "", "", "", "GROUP-SISTER"))
        contracts.append((p["id"], p["start"], p["end"], p.get("category", ""), "", ""))
        c = Period(date.fromisoformat(p["start"]), date.fromisoformat(p["end"]) if p["end"] else date.max)
        for m in span.months():
            o = m.overlap(c)
            if o is None:
                continue
            key = m.start.strftime("%Y-%m")
            gross = p["monthly"] * o.days // m.days
            ap_h, ap_i = p["ap"].get(key, ("0", 0))
            pay.append(
                (
                    p["id"],
                    m.start.isoformat(),
                    gross,
                    p["monthly"],
                    p["hours"],
                    ap_h,
                    ap_i,
                    p["reconstituted"].get(key),
                    p.get("cp_caisse", {}).get(key, 0),
                    p.get("ap_subject", {}).get(key),
                )
            )
        for kind, s, e in p["absences"]:
            absences.append((p["id"], kind, s, e))
    cfg = parse_company_toml(company_toml, "test")
    return CompanyData(cfg, contracts, pay, absences, "test")


def world(tmp_path, data: CompanyData) -> tuple[EventBus, Ledger]:
    ledger = Ledger.create(tmp_path / f"l{len(list(tmp_path.iterdir()))}.db")
    host = load_plugins(entry_points=False)
    from paybonus.config import scheme_config

    for name in data.config.schemes:
        scheme_config(data.config, host.schemes[name], "test")  # validate like `paybonus load`
    store_company(ledger, data)
    return EventBus(ledger, host), ledger


def close_year(
    bus: EventBus, year: int = 2025, rcai: str | int = "100000", results_id: str = "results", **figures: Any
):
    f = EventFactory("ACME")
    for m in range(1, 13):
        bus.publish(f.period_closed(f"{year}-{m:02d}"))
    return bus.publish(f.results_published(str(year), {"rcai": rcai, **figures}, id=results_id))


def principal_2022(tmp_path, plan: bool = True) -> tuple[EventBus, Ledger, str, int]:
    """A 2022 intéressement principal (due 31 May 2023) of a company with (or without) a PEE, and a company PER:
    the bus, the ledger, the principal's id and amount."""
    text = toml(starts_on="2010-01-01", per=True)
    if not plan:
        text = text.replace("has_savings_plan = true", "has_savings_plan = false")
    bus, ledger = world(tmp_path, company([person("A", 300_000)], text, year=2022))
    close_year(bus, year=2022, rcai=1_000)
    principal = ledger.entitlements.rows(scheme="interessement")[0]
    return bus, ledger, principal["id"], principal["amount_cents"]


def amounts(ledger: Ledger, scheme: str = "interessement") -> dict[str, int]:
    out: dict[str, int] = {}
    for r in ledger.entitlements.rows(scheme=scheme):
        out[r["employee"]] = out.get(r["employee"], 0) + r["amount_cents"]
    return out


def summary(ledger: Ledger, event_id: str) -> dict[str, Any]:
    import json

    row = ledger.conn.execute(
        "SELECT summary FROM dispatches WHERE event_id = ? AND scheme = 'interessement'", (event_id,)
    ).fetchone()
    return json.loads(row[0])


D = Decimal


# a company of the salary-bonus tests, with a prime NAO award (tests/salary)
HEAD = '[company]\nid = "ACME"\nname = "Acme"\nfiscal_year_start = "01-01"\nheadcount = 10\n'


def nao(award: str, **common) -> str:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in common.items())
    return (
        HEAD
        + "\n[schemes.prime_nao]\n"
        + extra
        + '\n[[schemes.prime_nao.awards]]\nid = "nao-2025"\nreference_period = "2025"\n'
        + award
    )


def close(bus, months=range(1, 13), year=2025):
    f = EventFactory("ACME")
    for m in months:
        bus.publish(f.period_closed(f"{year}-{m:02d}"))
