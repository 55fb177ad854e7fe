"""The individual statement of intéressement (fiche distincte, LAW 1.9, D3313-9), in HTML and PDF, in French.

It states: 1° the global amount distributed; 2° the average amount; 3° the person's total rights; 3° bis
advances; 3° ter what remains to be received; 4° the CSG/CRDS withheld; 5° when placed, the unavailability
period; 6° the default allocation to the savings plan; and an annex recalling the calculation and distribution
rules. Each statement carries a seal (the ids and digests of the ledger entries it shows, and their total) that
`paybonus notice verify FILE` checks against the ledger.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from attrs import frozen
from fpdf import FPDF

from .calendar import Period
from .errors import UserError
from .money import format_euros
from .params import Parameters
from .payments import allocation
from .store import Ledger

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
SEAL_PREFIX = "paybonus-seal-v1"


@frozen
class Statement:
    data: dict[str, Any]

    def html(self) -> str:
        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        text = resources.files("paybonus").joinpath("templates/statement.html.j2").read_text(encoding="utf-8")
        return env.from_string(text).render(s=self.data)

    def pdf(self) -> bytes:
        d = self.data
        pdf = FPDF(format="A4")
        pdf.set_title(_latin(d["title"]))
        pdf.set_keywords(d["seal"])
        pdf.set_creator("paybonus")
        pdf.add_page()
        pdf.set_font("Helvetica", size=10)
        w = pdf.epw

        def line(text: str, size: int = 10, style: str = "", gap: float = 1.5) -> None:
            pdf.set_font("Helvetica", style=style, size=size)
            pdf.multi_cell(w, 5, _latin(text))
            pdf.ln(gap)

        def row(label: str, value: str) -> None:
            pdf.set_font("Helvetica", size=10)
            pdf.cell(w * 0.72, 6, _latin(label), border="B")
            pdf.cell(w * 0.28, 6, _latin(value), border="B", align="R", new_x="LMARGIN", new_y="NEXT")

        line(d["company_name"])
        line(
            f"{d['employee_name'] or d['employee']} (matricule {d['employee']})"
            + (f"\n{d['address']}" if d["address"] else "")
        )
        line(d["title"], size=14, style="B", gap=2)
        line(
            f"Fiche distincte du bulletin de paie (article D3313-9 du code du travail). Période de calcul : {d['period_fr']}."
        )
        row(f"1° Montant global de l'{d['label']} distribué", d["global_amount"])
        row(f"2° Montant moyen perçu par les {d['beneficiaries']} bénéficiaires", d["average_amount"])
        row("3° Montant total de vos droits", d["total"])
        row("3° bis Avances reçues", d["advances"])
        row("3° ter Montant restant à percevoir", d["remaining"])
        for label, value in d["csg_lines"]:
            row(f"4° {label}", value)
        pdf.ln(3)
        if d["interest"]:
            line(f"Intérêts de retard (1,33 fois le TMOP, article L3314-9) : {d['interest']}.")
        line("Affectation de vos droits", size=11, style="B")
        line(d["allocation_text"])
        line(f"5° {d['unavailability']}")
        line(f"6° {d['default_allocation']}")
        line(f"Date limite de versement : {d['deadline_fr']}.")
        line("Annexe : règles de calcul et de répartition", size=11, style="B")
        for rule in d["annex"]:
            line(f"- {rule}", gap=0.5)
        pdf.ln(2)
        line(
            f"Scellé du registre paybonus : {d['seal_hash']} ({d['entries']} écriture(s)). "
            "Vérification : paybonus notice verify.",
            size=8,
        )
        return bytes(pdf.output())


LABELS = {"interessement": "intéressement", "interessement_projet": "intéressement de projet"}


def build(
    ledger: Ledger, company: str, employee: str, period: Period, scheme: str, params: Parameters, as_of: date
) -> Statement:
    """The statement of one beneficiary for one scheme and calculation period."""
    rows = ledger.entitlements.rows(company, scheme, period, employee, exact_period=True)
    if not rows:
        raise UserError(
            "statement", f"no {scheme} entitlement of {employee} for {period} in company {company}"
        )
    rights = [r for r in rows if r["kind"] != "interest"]
    interest = [r for r in rows if r["kind"] == "interest"]
    total = sum(r["amount_cents"] for r in rights)
    paid = sum(ledger.payments.paid_cents(r["id"]) for r in rights)
    everyone = ledger.entitlements.totals_by_employee(company, scheme, period)
    global_cents = sum(t for _, t in everyone)
    beneficiaries = sum(1 for _, t in everyone if t > 0)
    average = int((Decimal(global_cents) / max(beneficiaries, 1)).to_integral_value(ROUND_HALF_UP))
    config = tomllib.loads(ledger.companies.toml(company) or "")
    info = config.get("company", {})
    agreement = config.get("schemes", {}).get(scheme, {})
    principal = next((r for r in rights if r["kind"] == "principal"), rights[0])
    alloc = allocation(ledger, principal["id"], as_of, params)
    name = ledger.companies.display_name(company, employee)
    entries = sorted((r["id"], r["digest"]) for r in rows)
    seal_hash = hashlib.sha256(
        "|".join(f"{i}={d}" for i, d in entries).encode() + f"|{total}".encode()
    ).hexdigest()
    deadline = date.fromisoformat(principal["due_date"]) if principal["due_date"] else None
    label = LABELS.get(scheme, scheme.replace("_", " "))
    years = params.value("pee_unavailability_years", period.end)
    data = {
        "title": f"Relevé individuel d'{label} {period.start.year if period.whole_months() == 12 else ''}".strip(),
        "label": label,
        "company_name": info.get("name", company),
        "employee": employee,
        "employee_name": name,
        "address": forwarding_address(ledger, company, employee) or "",
        "period_fr": f"du {_date_fr(period.start)} au {_date_fr(period.end)}",
        "global_amount": _eur(global_cents),
        "beneficiaries": beneficiaries,
        "average_amount": _eur(average),
        "total": _eur(total),
        "advances": _eur(0),
        "remaining": _eur(total - paid),
        "csg_lines": _csg_lines(total, alloc, params, period.end),
        "interest": _eur(sum(r["amount_cents"] for r in interest)) if interest else "",
        "allocation_text": _allocation_text(alloc, total),
        "unavailability": (
            f"Sommes placées sur le plan d'épargne entreprise : indisponibles pendant {years} ans, sauf cas "
            "de déblocage anticipé prévus par le code du travail (article R3324-22), dont la liste est "
            "fournie par le teneur de compte."
        ),
        "default_allocation": (
            "À défaut de demande de versement dans les 15 jours suivant la réception de cette fiche, "
            "les sommes sont affectées au plan d'épargne entreprise (article L3315-2)."
            if info.get("has_savings_plan")
            else "L'entreprise n'a pas de plan d'épargne : les sommes vous sont versées."
        ),
        "deadline_fr": _date_fr(deadline) if deadline else "-",
        "annex": _annex(agreement, scheme),
        "entries": len(entries),
        "seal_hash": seal_hash,
        "seal": f"{SEAL_PREFIX};{company};{scheme};{employee};{period.key};{total};"
        + ",".join(f"{i}={d}" for i, d in entries)
        + f";{seal_hash}",
    }
    return Statement(data)


def forwarding_address(ledger: Ledger, company: str, employee: str) -> str | None:
    """The last forwarding address an `employee_left` event gave for the employee (LAW I-44)."""
    for row in reversed(ledger.events.of_type(company, "employee_left", employee)):
        address = json.loads(row["payload"]).get("forwarding_address")
        if address:
            return str(address)
    return None


def _csg_lines(total: int, alloc: dict[str, Any], params: Parameters, on: date) -> list[tuple[str, str]]:
    """CSG/CRDS on 100 % of the amount (LAW 0.3), by how the sum is allocated."""
    placed = {"placed": total, "paid": 0, "split": int(alloc.get("placed_cents") or 0)}.get(
        alloc["allocation"]
    )

    def part(cents: int, name: str) -> int:
        return int((Decimal(cents) * params.value(name, on)).to_integral_value(ROUND_HALF_UP))

    def pct(name: str) -> str:  # the rate as printed, from the same dated parameter (LAW 0.3)
        return f"{(params.value(name, on) * 100).normalize():f}".replace(".", ",") + " %"

    if placed is None:  # not decided yet: both cases
        return [
            (
                f"Retenue CSG/CRDS si versé (CSG {pct('csg_deductible')} déductible + {pct('csg_non_deductible')}, CRDS {pct('crds')})",
                _eur(part(total, "csg_deductible") + part(total, "csg_non_deductible") + part(total, "crds")),
            ),
            (
                f"Retenue CSG/CRDS si placé (CSG {pct('csg_total')}, CRDS {pct('crds')})",
                _eur(part(total, "csg_total") + part(total, "crds")),
            ),
        ]
    paid = total - placed
    lines = []
    if paid:
        lines.append(
            (
                f"Retenue CSG/CRDS sur la part versée ({pct('csg_deductible')} + {pct('csg_non_deductible')} + {pct('crds')})",
                _eur(part(paid, "csg_deductible") + part(paid, "csg_non_deductible") + part(paid, "crds")),
            )
        )
    if placed:
        lines.append(
            (
                f"Retenue CSG/CRDS sur la part placée ({pct('csg_total')} + {pct('crds')})",
                _eur(part(placed, "csg_total") + part(placed, "crds")),
            )
        )
    return lines


def _allocation_text(alloc: dict[str, Any], total: int) -> str:
    a = alloc["allocation"]
    if a == "paid":
        return "Versement immédiat de vos droits." + (
            " (affectation par défaut)" if alloc["by"] != "choice" else ""
        )
    if a == "placed":
        return "Placement de vos droits sur le plan d'épargne entreprise." + (
            " (affectation par défaut, faute de demande dans le délai)" if alloc["by"] != "choice" else ""
        )
    if a == "split":
        placed = int(alloc.get("placed_cents") or 0)
        return f"Versement de {_eur(total - placed)} et placement de {_eur(placed)} sur le plan d'épargne entreprise."
    return (
        "Vous pouvez demander le versement immédiat de tout ou partie de vos droits dans les 15 jours suivant la "
        "réception de cette fiche (article R3313-12)."
    )


def _annex(agreement: dict[str, Any], scheme: str) -> list[str]:
    if scheme != "interessement" or not agreement:
        return ["Le calcul et la répartition suivent les règles de l'accord applicable."]
    names = {
        "uniform": "de manière uniforme",
        "presence": "au prorata du temps de présence",
        "salary": "au prorata des salaires",
    }
    parts = [
        f"{Decimal(str(s['share'])) * 100:.0f} % {names.get(s['criterion'], s['criterion'])}"
        for s in agreement.get("distribution", [])
    ]
    months = agreement.get("period_months", 12)
    return [
        f"Calcul de l'intéressement global selon la formule de l'accord : {agreement.get('formula', '')} ; "
        "il ne peut être négatif.",
        "Période de calcul : " + ("l'exercice." if months == 12 else f"{months} mois."),
        "Répartition : "
        + ", ".join(parts)
        + ". Les congés de maternité, de paternité, d'adoption, de deuil, les "
        "absences pour accident du travail ou maladie professionnelle et l'activité partielle sont assimilés à du "
        "temps de présence (articles L3314-5, R3314-3, R5122-11).",
        f"Condition d'ancienneté : {agreement.get('seniority_months', 0)} mois, appréciée sur la période de calcul et "
        "les douze mois qui la précèdent (article L3342-1).",
        "Plafonds : l'intéressement global ne peut dépasser 20 % des salaires bruts ; les droits de chaque bénéficiaire "
        "ne peuvent dépasser les trois quarts du plafond annuel moyen de la sécurité sociale (article L3314-8).",
        "Les sommes non distribuées du fait du plafond individuel sont "
        + (
            "réparties entre les autres bénéficiaires (article L3314-11)."
            if agreement.get("reliquat") == "redistribute"
            else "conservées par l'entreprise (pas de réaffectation)."
        ),
    ]


def verify_file(ledger: Ledger, path: Path) -> tuple[bool, str]:
    """Check a statement file's seal against the ledger. Returns (ok, one line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(str(path), f"cannot read ({exc.strerror})") from None
    seal = _seal_from(raw, path)
    parts = seal.split(";")
    if len(parts) != 8 or parts[0] != SEAL_PREFIX:
        raise UserError(str(path), "no paybonus seal in this file")
    _, company, scheme, employee, period, total, entries, seal_hash = parts
    pairs = sorted(tuple(e.split("=", 1)) for e in entries.split(",") if "=" in e)
    expected_hash = hashlib.sha256(
        "|".join(f"{i}={d}" for i, d in pairs).encode() + f"|{total}".encode()
    ).hexdigest()
    if expected_hash != seal_hash:
        return False, f"{path}: the seal was altered (its hash does not match its content)"
    rights = 0
    for eid, digest in pairs:
        row = ledger.entitlements.get(eid)
        if row is None:
            return False, f"{path}: entitlement {eid} is not in the ledger"
        if row["digest"] != digest:
            return False, f"{path}: entitlement {eid} differs from the ledger (digest)"
        if row["company"] != company or row["employee"] != employee or row["scheme"] != scheme:
            return False, f"{path}: entitlement {eid} belongs to another statement"
        if row["kind"] != "interest":
            rights += row["amount_cents"]
    if rights != int(total):
        return False, f"{path}: total {total} differs from the ledger's {rights}"
    now = [
        r["id"]
        for r in ledger.entitlements.rows(company, scheme, Period.parse(period), employee, exact_period=True)
    ]
    if sorted(now) != [i for i, _ in pairs]:
        return (
            True,
            f"{path}: OK, but the ledger now holds later entries for this period (a newer statement is due)",
        )
    return True, f"{path}: OK ({len(pairs)} ledger entries, total {format_euros(int(total))} EUR)"


def _seal_from(raw: bytes, path: Path) -> str:
    if raw.startswith(b"%PDF"):
        from io import BytesIO

        from pypdf import PdfReader

        try:
            meta = PdfReader(BytesIO(raw)).metadata
        except Exception:
            raise UserError(str(path), "not a readable PDF") from None
        return str(meta.get("/Keywords", "")) if meta is not None else ""
    m = re.search(rb'<meta name="paybonus-ledger" content="([^"]+)"', raw)
    return m.group(1).decode() if m else ""


def _eur(cents: int) -> str:
    return format_euros(cents, french=True)


def _date_fr(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _latin(text: str) -> str:
    """The PDF core fonts speak Latin-1: typographic characters become their plain equivalents."""
    return (
        text.replace("\u202f", " ")
        .replace("€", "EUR")
        .replace("’", "'")
        .replace("–", "-")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )
