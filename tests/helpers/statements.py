"""Ledgers with individual statements to write: the sample company's year, and the project example."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

from paybonus import Paybonus
from paybonus.fixtures import project_sample_dir, sample_dir
from paybonus.statements.seal import visible_text

from .projects import agreement, statement_event, statement_from

# what every statement shows (D3313-9 items and what the issue asks for), as a reader sees it
ITEMS = (
    "1° Montant global de l'",
    "2° Montant moyen perçu par les",
    "3° Montant total de vos droits (brut)",
    "3° bis Avances déjà reçues",
    "3° ter Montant restant à percevoir",
    "4° CSG et CRDS retenues (9,7 % du montant brut)",
    "Montant net, que vous le perceviez ou le placiez",
    "5° Les sommes placées sont indisponibles pendant 5 ans",
    "6° Sans demande de votre part au plus tard le",
    "Date limite de versement : le 31 mai 2026",
    "Fiche distincte du bulletin de paie (article D3313-9 du code du travail)",
    "période de calcul du 1er janvier au 31 décembre 2025",
    "Une question, une demande de versement ?",
    "Annexe – Comment votre",
    "Contrôle : ce relevé reprend",
)


# the sample company with a company PER beside its PEE (`placed_per` payments), or with only a company PER
WITH_PER = ("has_savings_plan = true\n", "has_savings_plan = true\nhas_company_per = true\n")
PER_ONLY = ("has_savings_plan = true\n", "has_savings_plan = false\nhas_company_per = true\n")


def sample_ledger(path: Path, change: tuple[str, str] | None = None, contracts: str = "") -> Path:
    """The sample company (DURAND) and its year of events; `change` replaces a text of its company.toml, and
    `contracts` (lines of employees.csv) are added to its contracts (in a copy beside the ledger)."""
    company = sample_dir()
    if change is not None or contracts:
        company = path.parent / "DURAND"
        shutil.copytree(sample_dir(), company)
    if change is not None:
        toml = company / "company.toml"
        assert change[0] in toml.read_text(encoding="utf-8")
        toml.write_text(toml.read_text(encoding="utf-8").replace(*change), encoding="utf-8")
    if contracts:
        with (company / "employees.csv").open("a", encoding="utf-8") as f:
            f.write(contracts)
    with Paybonus.create(path) as app:
        app.load_company(company)
        app.publish(company / "events.jsonl")
    return path


def project_ledger(path: Path) -> Path:
    """The project example ATLAS: three companies in one ledger, the coordinator's statement imported."""
    example = project_sample_dir()
    with Paybonus.create(path) as app:
        for cid in ("ALPHA", "MEGA", "BETA"):
            app.load_company(example / cid)
            app.publish(example / cid / "events.jsonl")
        st = statement_from(dict.fromkeys(("ALPHA", "MEGA", "BETA"), app.ledger), agreement())
        app.publish([statement_event(st, cid) for cid in ("ALPHA", "MEGA", "BETA")])
    return path


def text_of(raw: bytes, footer: str = "") -> str:
    """What a reader sees in a statement file (spaces made plain), less the PDF's running footer."""
    text = visible_text(raw, "statement")
    if footer:
        text = re.sub(re.escape(footer) + r" page \d+/\d+", " ", text)
    return " ".join(text.split())


def words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[\w°€%'’,.:;–-]+", text))
