"""Company configuration: `company.toml`, structured with cattrs into attrs classes, with precise errors.

[company]
id = "ACME"
name = "Acme Industrie SAS"
fiscal_year_start = "01-01"
average_headcounts = { 2021 = 24, 2022 = 26, 2023 = 27, 2024 = 28, 2025 = 28 }   # or headcount = 28
has_savings_plan = true
per_qualifying = false       # the company PER meets L137-16's default allocation (forfait social 16 %)
has_company_per = false      # a company PER exists (per_qualifying implies it): placements on request

[schemes.interessement]      # one table per scheme the company runs; validated by the scheme's config_type
...

[statement]                  # optional: what individual statements say and how they look (docs/statements.md)
contact = "Service des ressources humaines"
...
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from attrs import Factory, frozen
from paybonus.hooks.types import CompanyInfo, SchemeDescriptor

from .convert import structure
from .errors import UserError
from .events import is_name_id
from .parsing import load_toml


@frozen
class FigureLabel:
    """How a statement's annex names one of the agreement's figures, e.g. "le taux d'avancement du projet"."""

    label: str
    unit: str = ""  # "€", "%", or a word ("jours"); "" guesses: euros above 1, a plain number below


@frozen
class Wording:
    """Sentences of the shipped statement template that a company may replace with its own."""

    intro: str | None = None  # the opening sentence, before the amounts
    contact: str | None = None  # the paragraph under "Une question, une demande de versement ?"
    closing: str | None = None  # a last paragraph before the check line (a signature, a thank-you)


# the longest each line of a statement's header and contact block may be: a postal address line is 38, an e-mail
# address 254 (RFC 5321), a paragraph on how to ask for payment a few lines
_STATEMENT_TEXT_CHARS = {
    "place": 100,
    "contact": 200,
    "contact_email": 254,
    "contact_phone": 40,
    "how_to_ask": 1000,
    "savings_plan": 300,
    "account_keeper": 300,
}


@frozen
class StatementSettings:
    """`[statement]`: the company's contact, savings plan, logo, wording and templates on individual statements."""

    place: str | None = None  # "Lyon": "Lyon, le 15 avril 2026"
    contact: str = "Service des ressources humaines"
    contact_email: str | None = None
    contact_phone: str | None = None
    how_to_ask: str | None = None  # how to ask for payment: "par courriel à rh@... en indiquant ..."
    savings_plan: str = "le plan d'épargne entreprise (PEE)"
    account_keeper: str | None = None  # teneur de compte: gives the list of early-release cases
    logo: str | None = None  # PNG or JPEG file, relative to the company directory
    template_dir: str | None = None  # the company's own templates, relative to the company directory
    # an X.509 certificate and its private key (PEM files, read when statements are written, never stored): the
    # PDF then also carries a standard PDF signature any reader shows (needs `pip install 'paybonus[pdfsign]'`)
    pdf_certificate: str | None = None
    pdf_certificate_key: str | None = None
    wording: Wording = Wording()
    formulas: dict[str, str] = Factory(dict)  # scheme -> the agreement's own words for its formula
    figures: dict[str, FigureLabel] = Factory(dict)  # figure name -> label and unit in the annex

    def __attrs_post_init__(self) -> None:
        for name, most in _STATEMENT_TEXT_CHARS.items():
            value = getattr(self, name)
            if value is not None and len(value) > most:  # a page of contact pushed the statement onto four
                raise ValueError(
                    f"{name}: {len(value)} characters, at most {most} (printed on every statement)"
                )
        for name, value in (("logo", self.logo), ("template_dir", self.template_dir)):
            if value is not None and (not value or value.startswith("/") or ".." in value.split("/")):
                raise ValueError(f"{name}: {value!r} must be a path inside the company directory")
        if (self.pdf_certificate is None) != (self.pdf_certificate_key is None):
            raise ValueError("pdf_certificate: give it with pdf_certificate_key (both PEM files), or neither")
        if self.logo is not None and not self.logo.lower().endswith((".png", ".jpg", ".jpeg")):
            raise ValueError(f"logo: {self.logo!r} must be a PNG or JPEG file (.png, .jpg)")
        for name in self.figures:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"figures: {name!r} is not a figure name (lower_snake_case)")


@frozen
class CompanyConfig:
    info: CompanyInfo
    schemes: dict[str, dict[str, Any]]  # raw tables, structured per scheme by `scheme_config`
    toml: str  # the text as loaded, stored in the ledger so that computations need no files
    statement: StatementSettings = StatementSettings()


def parse_company_toml(text: str, where: str) -> CompanyConfig:
    try:
        data = load_toml(text)
    except ValueError as exc:
        raise UserError(where, str(exc)) from None
    extra = sorted(set(data) - {"company", "schemes", "statement"})
    if extra:
        raise UserError(
            where, f"unknown table [{extra[0]}] (expected [company], [schemes.<name>] and [statement])"
        )
    if "company" not in data:
        raise UserError(where, "missing [company] table")
    address = data["company"].get("address") if isinstance(data["company"], dict) else None
    if address is not None and (
        not isinstance(address, list) or not all(isinstance(a, str) and a.strip() for a in address)
    ):
        raise UserError(
            where, 'company.address: expected a list of lines, e.g. ["14 rue des Tanneurs", "69007 Lyon"]'
        )
    try:
        info = structure(data["company"], CompanyInfo)
    except ValueError as exc:
        raise UserError(where, _in_table("company", exc)) from None
    if info.siren is not None and not re.fullmatch(r"[0-9]{9}", info.siren):
        raise UserError(where, f"company.siren: {info.siren!r} is not a SIREN (9 digits, no spaces)")
    try:
        statement = structure(data.get("statement", {}), StatementSettings)
    except ValueError as exc:
        raise UserError(where, _in_table("statement", exc)) from None
    if not _month_day(info.fiscal_year_start):
        raise UserError(
            where,
            f"company.fiscal_year_start: expected a day of every year, MM-DD, got {info.fiscal_year_start!r}",
        )
    if not is_name_id(info.id):
        raise UserError(
            where,
            f"company.id: {info.id!r:.80} must be 1-64 letters, digits or ._- (no spaces, no '/', no '..')",
        )
    if info.headcount is not None and info.headcount < 0:
        raise UserError(where, "company.headcount: must not be negative")
    for year, count in sorted((info.average_headcounts or {}).items()):
        if not re.fullmatch(r"(19|20)[0-9]{2}", year):
            raise UserError(
                where, f"company.average_headcounts: {year!r} is not a calendar year (e.g. 2024 = 180)"
            )
        if count < 0:
            raise UserError(where, f"company.average_headcounts.{year}: must not be negative")
    for i, r in enumerate(info.fiscal_results):
        if not re.fullmatch(r"(19|20)[0-9]{2}", r.exercise):
            raise UserError(
                where, f'company.fiscal_results[{i}].exercise: {r.exercise!r} is not a year (e.g. "2024")'
            )
        if r.chiffre_affaires < 0:
            raise UserError(where, f"company.fiscal_results[{i}].chiffre_affaires: must not be negative")
    if len({r.exercise for r in info.fiscal_results}) != len(info.fiscal_results):
        raise UserError(where, "company.fiscal_results: each exercise appears once")
    for year in info.value_sharing:
        if not re.fullmatch(r"(19|20)[0-9]{2}", year):
            raise UserError(where, f'company.value_sharing: {year!r} is not a year (e.g. 2025 = ["ppv"])')
    schemes = data.get("schemes", {})
    if not isinstance(schemes, dict) or not all(isinstance(v, dict) for v in schemes.values()):
        raise UserError(where, "schemes: expected tables [schemes.<name>]")
    return CompanyConfig(info, schemes, text, statement)


def _month_day(text: str) -> bool:
    """MM-DD, a day that exists every year (not 02-29, 02-30 or 04-31)."""
    if not re.fullmatch(r"[0-9]{2}-[0-9]{2}", text):
        return False
    try:
        date(2023, int(text[:2]), int(text[3:]))
    except ValueError:
        return False
    return True


def _in_table(table: str, exc: ValueError) -> str:
    """ "statement.logo: ..." for a field, "statement: unknown field(s) x" for the table itself."""
    text = str(exc)
    return f"{table}: {text}" if text.startswith("unknown field") else f"{table}.{text}"


def scheme_config(config: CompanyConfig, scheme: SchemeDescriptor, where: str) -> Any:
    """The company's table for `scheme`, structured into its `config_type` (None when not configured)."""
    raw = config.schemes.get(scheme.name)
    if raw is None or scheme.config_type is None:
        return raw
    try:
        return structure(raw, scheme.config_type)
    except ValueError as exc:
        raise UserError(where, _in_table(f"schemes.{scheme.name}", exc)) from None


def scheme_problems(config: CompanyConfig, known: dict[str, SchemeDescriptor]) -> list[str]:
    """What is wrong with the list of the company's schemes: one not installed, or one without the schemes it
    requires. `load` refuses the first (`check_schemes_known`), `lint` lists them all."""
    out: list[str] = []
    for name in config.schemes:
        if name not in known:
            out.append(f"[schemes.{name}]: no installed scheme has that name (see `paybonus plugins`)")
            continue
        for needed in known[name].requires:
            if needed not in config.schemes:
                out.append(
                    f"[schemes.{name}]: the company also needs [schemes.{needed}] "
                    f"({known[name].label} requires {known[needed].label if needed in known else needed})"
                )
    return out


def check_schemes_known(config: CompanyConfig, known: dict[str, SchemeDescriptor], where: str) -> None:
    """Every configured scheme is installed, and the schemes it requires are configured too."""
    problems = scheme_problems(config, known)
    if problems:
        raise UserError(where, problems[0])
