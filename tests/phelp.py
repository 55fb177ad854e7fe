"""Three companies taking part in one project (intéressement de projet tests)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from paybonus import EventBus, Ledger, load_plugins
from paybonus.calendar import Period
from paybonus.config import check_schemes_known, parse_company_toml, scheme_config
from paybonus.fixtures.pytest_plugin import EventFactory
from paybonus.params import Parameters
from paybonus.plugins.interessement_projet.agreement import load_project_toml
from paybonus.plugins.interessement_projet.statement import build, measure
from paybonus.sources import CompanyData, store_company

PARIS = timezone(timedelta(hours=1))
ISSUED = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)

PROJECT = """
[project]
id = "ATLAS"
name = "Projet Atlas"
version = "avenant-0"
starts_on = 2025-01-01
ends_on = 2027-12-31
period_months = {period_months}
signatories = "pei"
figures = ["completion", "delay_days", "quality"]
formula = "15000 * achievement(completion, 0.6, 1.0) + 5000 * (1 - min(1, delay_days / 60)) + 10000 * achievement(quality, 0.9, 0.98)"
split = "{split}"

[[project.entities]]
id = "ALPHA"
company = "ALPHA"
{alpha_share}

[[project.entities]]
id = "MEGA-LYON"
company = "MEGA"
scope = "establishment"
unit = "LYON"
{mega_share}

[[project.entities]]
id = "BETA-RD"
company = "BETA"
scope = "work_unit"
unit = "RD"
joined_on = 2025-07-01
{beta_share}
"""

FIGURES = {"completion": Decimal("0.9"), "delay_days": Decimal("15"), "quality": Decimal("0.95")}
# 15 000 x 0.75 + 5 000 x 0.75 + 10 000 x 0.625 = 11 250 + 3 750 + 6 250 = 21 250.00 euros
POOL = 2_125_000


def project_toml(
    split: str = "headcount", period_months: int = 12, shares: tuple[str, str, str] = ("0.5", "0.3", "0.2")
) -> str:
    fixed = split == "fixed"
    return PROJECT.format(
        split=split,
        period_months=period_months,
        alpha_share=f'share = "{shares[0]}"' if fixed else "",
        mega_share=f'share = "{shares[1]}"' if fixed else "",
        beta_share=f'share = "{shares[2]}"' if fixed else "",
    )


def agreement(split: str = "headcount", **kw: Any):
    return load_project_toml(project_toml(split, **kw), Parameters.default(), "project.toml")


def company_toml(
    cid: str, entity: str, classic: str = "rcai", dist: str = "salary", reliquat: str = "keep"
) -> str:
    return f"""
[company]
id = "{cid}"
name = "{cid} SAS"
headcount = 60
has_savings_plan = true

[schemes.interessement]
starts_on = 2024-01-01
formula = "{classic}"
reliquat = "{reliquat}"
[[schemes.interessement.distribution]]
criterion = "salary"
share = "1"

[[schemes.interessement_projet.participations]]
project = "ATLAS"
entity = "{entity}"
reliquat = "{reliquat}"
[[schemes.interessement_projet.participations.distribution]]
criterion = "{dist}"
share = "1"
"""


# id, monthly gross (cents), establishment, work unit, contract start
PEOPLE: dict[str, list[tuple[str, int, str, str, str]]] = {
    "ALPHA": [
        ("A1", 2_500_000, "PARIS", "", "2019-01-01"),  # a high earner: classic alone reaches 75 % PASS
        ("A2", 300_000, "PARIS", "", "2019-01-01"),
        ("A3", 300_000, "PARIS", "", "2021-05-01"),
        ("A4", 280_000, "PARIS", "", "2025-03-01"),
    ],
    "MEGA": [
        ("M1", 350_000, "LYON", "", "2018-01-01"),
        ("M2", 320_000, "LYON", "", "2020-01-01"),
        ("M3", 400_000, "LILLE", "", "2018-01-01"),  # another establishment: outside the project
    ],
    "BETA": [
        ("B1", 380_000, "NANTES", "RD", "2017-01-01"),
        ("B2", 360_000, "NANTES", "RD", "2025-09-01"),
        ("B3", 300_000, "NANTES", "PROD", "2017-01-01"),  # another work unit: outside the project
    ],
}
ENTITY = {"ALPHA": "ALPHA", "MEGA": "MEGA-LYON", "BETA": "BETA-RD"}


def company_data(cid: str, toml_text: str | None = None, year: int = 2025) -> CompanyData:
    contracts, pay = [], []
    for emp, monthly, est, unit, start in PEOPLE[cid]:
        contracts.append((emp, start, None, "", est, "", unit))
        first = date.fromisoformat(start)
        for m in range(1, 13):
            month = date(year, m, 1)
            if month < first.replace(day=1):
                continue
            pay.append((emp, month.isoformat(), monthly, monthly, "151.67", "0", 0, None))
    text = toml_text or company_toml(cid, ENTITY[cid])
    return CompanyData(parse_company_toml(text, f"{cid}/company.toml"), contracts, pay, [], cid)


def load(ledger: Ledger, data: CompanyData, host=None) -> None:
    host = host or load_plugins(entry_points=False)
    check_schemes_known(data.config, host.schemes, "test")
    for name in data.config.schemes:
        scheme_config(data.config, host.schemes[name], "test")
    store_company(ledger, data)


def close_year(bus: EventBus, cid: str, rcai: int | str | None, year: int = 2025) -> None:
    f = EventFactory(cid)
    for m in range(1, 13):
        bus.publish(f.period_closed(f"{year}-{m:02d}", id=f"{cid}-close-{year}-{m:02d}"))
    if rcai is not None:
        bus.publish(f.results_published(str(year), {"rcai": rcai}, id=f"{cid}-results-{year}"))


def shared_world(path: Path, tomls: dict[str, str] | None = None) -> tuple[EventBus, Ledger]:
    ledger = Ledger.create(path)
    host = load_plugins(entry_points=False)
    for cid in PEOPLE:
        load(ledger, company_data(cid, (tomls or {}).get(cid)), host)
    return EventBus(ledger, host), ledger


def statement_from(ledgers: dict[str, Ledger], ag, period: Period, figures=FIGURES, issued=ISSUED) -> dict:
    """The coordinator's statement, measuring each entity in the ledger that holds its company."""
    host = load_plugins(entry_points=False)
    measures = {}
    for e in ag.entities:
        ledger = ledgers[e.company]
        source = host.payroll_source(None, ledger)
        measures[e.id] = measure(ag, e, period, lambda w, c=e.company, s=source: s.population(c, w))
    return build(ag, period, figures, measures, issued)


def amounts(ledger: Ledger, scheme: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in ledger.entitlement_rows(scheme=scheme):
        k = (r["company"], r["employee"])
        out[k] = out.get(k, 0) + r["amount_cents"]
    return out


YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))
