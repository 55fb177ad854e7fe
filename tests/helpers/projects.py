"""Three companies taking part in one project (intéressement de projet tests), from the shipped example."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from paybonus import EventBus, Ledger, load_plugins
from paybonus.calendar import Period
from paybonus.events import Event
from paybonus.fixtures.project import project_toml
from paybonus.params import Parameters
from paybonus.plugins.interessement.projet import ProjectResultsPublished
from paybonus.plugins.interessement.projet.agreement import ProjectAgreement, load_project_toml
from paybonus.plugins.interessement.projet.statement import build, measure
from paybonus.sources import read_company_dir, store_company

PARIS = timezone(timedelta(hours=1))
ISSUED = datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))
FIGURES = {"completion": Decimal("0.9"), "delay_days": Decimal("15"), "quality": Decimal("0.95")}
# 15 000 x 0.75 + 5 000 x 0.75 + 10 000 x 0.625 = 11 250 + 3 750 + 6 250 = 21 250.00 euros
POOL = 2_125_000


def agreement(split: str = "headcount", period_months: int = 12, **kw) -> ProjectAgreement:
    text = project_toml(split, **kw).replace("period_months = 12", f"period_months = {period_months}")
    return load_project_toml(text, Parameters.default(), "project.toml")


def load_company(ledger: Ledger, example: Path, cid: str, toml_text: str | None = None) -> None:
    """Load one company of the example, with a replacement company.toml if given."""
    if toml_text is not None:
        (example / cid / "company.toml").write_text(toml_text, encoding="utf-8")
    host = load_plugins(entry_points=False)
    from paybonus.config import check_schemes_known, scheme_config

    data = read_company_dir(example / cid)
    check_schemes_known(data.config, host.schemes, cid)
    for name in data.config.schemes:
        scheme_config(data.config, host.schemes[name], cid)
    store_company(ledger, data)


def publish_file(bus: EventBus, path: Path) -> None:

    bus.publish_all(bus.host.event_types.read_jsonl(str(path), path.read_text(encoding="utf-8")))


def close_year(bus: EventBus, example: Path, cid: str, classic: bool = True) -> None:
    """The company's 12 pay closes, and its classic results unless `classic` is False."""
    lines = (example / cid / "events.jsonl").read_text(encoding="utf-8").splitlines()
    keep = lines if classic else [x for x in lines if "results_published" not in x]

    bus.publish_all(bus.host.event_types.read_jsonl(cid, keep))


def classic_results(bus: EventBus, example: Path, cid: str) -> None:
    lines = (example / cid / "events.jsonl").read_text(encoding="utf-8").splitlines()

    bus.publish_all(bus.host.event_types.read_jsonl(cid, [x for x in lines if "results_published" in x]))


def statement_from(
    ledgers: dict[str, Ledger], ag: ProjectAgreement, period: Period = YEAR, figures=None
) -> dict:
    """The coordinator's statement, measuring each entity in the ledger that holds its company."""
    host = load_plugins(entry_points=False)
    measures = {}
    for e in ag.entities:
        source = host.payroll_source(None, ledgers[e.company].reader())
        measures[e.id] = measure(ag, e, period, lambda w, c=e.company, s=source: s.population(c, w))
    return build(ag, period, FIGURES if figures is None else figures, measures, ISSUED)


def statement_event(statement: dict, company: str, suffix: str = "") -> Event:
    st_period = Period(
        date.fromisoformat(statement["period"]["start"]), date.fromisoformat(statement["period"]["end"])
    )
    return Event(
        f"ATLAS:{statement['hash'][:16]}{suffix}@{company}",
        "project_results_published",
        company,
        datetime.fromisoformat(statement["issued_at"]),
        ProjectResultsPublished(statement["project"], st_period, statement),
    )


def amounts(ledger: Ledger, scheme: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in ledger.entitlements.rows(scheme=scheme):
        k = (r["company"], r["employee"])
        out[k] = out.get(k, 0) + r["amount_cents"]
    return out
