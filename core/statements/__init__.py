"""The individual statement of an épargne salariale scheme (fiche distincte, LAW 1.9, D3313-9), in French.

    content.py  the canonical content, built from the ledger: company, employee, period, issue date and
                channel, every amount line as printed, the dates and the choice, the annex, the entries shown
    seal.py     the seal derived from that content, carried in the files, checked by `paybonus notice verify`
    render.py   one jinja2 template to HTML and, through fpdf2, to PDF, with the shipped Noto Sans font
    context.py  what a scheme reads to write its annex (`SchemeDescriptor.statement_annex`)

It states 1° the global amount distributed; 2° the average amount; 3° the person's total rights; 3° bis advances;
3° ter what remains to be received; 4° the CSG/CRDS withheld and the net amount; 5° when placed, the
unavailability period; 6° the default allocation to the savings plan; the deadline and how to choose; and the
scheme's annex recalling the rules of calculation and distribution with the person's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from attrs import frozen
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..calendar import Period
from ..config import CompanyConfig
from ..errors import UserError
from ..events import Event, StatementIssued
from .content import CHANNELS, FORMAT, StatementBuilder, canonical, sample
from .render import TEMPLATE, Renderer
from .seal import seal_of, short, verify_file, visible_text

__all__ = [
    "CHANNELS",
    "FORMAT",
    "TEMPLATE",
    "Renderer",
    "Statement",
    "StatementBuilder",
    "build_statements",
    "canonical",
    "check_company_template",
    "seal_of",
    "verify_file",
]


@frozen
class Statement:
    """One beneficiary's statement: its canonical content, and the files and events made from it."""

    content: Mapping[str, Any]
    rights: tuple[str, ...]  # the principal and corrections it shows (interest follows its principal)
    renderer: Renderer
    key: Ed25519PrivateKey | None = None  # the ledger's signing key: the seal is then a signature

    @property
    def employee(self) -> str:
        return str(self.content["employee"]["id"])

    @property
    def seal(self) -> str:
        return seal_of(dict(self.content), self.key)

    @property
    def short_seal(self) -> str:
        return short(self.seal)

    def html(self) -> str:
        return self.renderer.html(self.content, self.seal)

    def pdf(self) -> bytes:
        return self.renderer.pdf(self.content, self.seal)

    def issued_events(self) -> list[Event[StatementIssued]]:
        """`statement_issued` for each right it shows, with the issue date and channel as given: the employee's
        choice window opens on that date (I-37, I-38). Writing the same statement again gives the same ids."""
        c = self.content
        on = date.fromisoformat(c["issued_on"])
        at = datetime.combine(on, time(9, 0), tzinfo=UTC)
        return [
            Event(
                f"statement:{eid}:{on.isoformat()}",
                "statement_issued",
                c["company"]["id"],
                at,
                StatementIssued(eid, on, c["channel"]),
            )
            for eid in self.rights
        ]


def check_issued_on(period: Period, issued_on: date) -> None:
    """A statement is issued once its period is over: issued before, the first one would open the 15-day choice
    window (I-38) on a date no later statement can move."""
    if issued_on <= period.end:
        raise UserError(
            "--issued-on",
            f"{issued_on} is not after the period {period} ends: statements are issued once it is over",
        )


def build_statements(
    builder: StatementBuilder,
    company: str,
    period: Period,
    scheme: str,
    issued_on: date,
    channel: str,
    employee: str | None = None,
    key: Ed25519PrivateKey | None = None,
) -> list[Statement]:
    """The statement of each beneficiary of a scheme's calculation period (or of one `employee`), signed with
    `key` when given."""
    builder.scheme(scheme)  # a salary-type scheme has none: refused before anything else
    check_issued_on(period, issued_on)
    people = builder.beneficiaries(company, period, scheme, employee)
    config = builder.caches.company(company)
    assert config is not None  # beneficiaries() checked it
    renderer = Renderer(config.statement, builder.ledger.companies.files(company))
    out = []
    for e in people:
        content, rights = builder.build(company, e, period, scheme, issued_on, channel)
        out.append(Statement(content, rights, renderer, key))
    return out


# what a statement must show, whatever its template (D3313-9 items, the annex, the check line)
LEGAL_MARKERS = ("1°", "2°", "3°", "3° bis", "3° ter", "4°", "5°", "6°", "Annexe")
LEGAL_LINES = ("global", "average", "total", "advances", "remaining", "withheld", "net")


def check_company_template(config: CompanyConfig, files: Mapping[str, bytes], where: str) -> None:
    """A company's own template, tried once on a made-up statement, to HTML and to PDF: refused with one line
    naming it if it cannot be rendered or laid out, or if what it prints leaves out an item of D3313-9, an
    amount, the annex or the check line."""
    renderer = Renderer(config.statement, files)
    content = sample(config)
    try:
        outputs = {"HTML": renderer.html(content).encode("utf-8"), "PDF": renderer.pdf(content)}
    except (
        UserError
    ) as exc:  # "fiche.html.j2:12: ..." becomes "<company dir>/<template_dir>/fiche.html.j2:12: ..."
        if exc.where.startswith(TEMPLATE):
            raise UserError(where + exc.where[len(TEMPLATE) :], exc.what) from None
        raise UserError(where, str(exc)) from None
    wanted = [
        *LEGAL_MARKERS,
        *(line["text"] for line in content["lines"] if line["key"] in LEGAL_LINES),
        short(seal_of(content)),
    ]
    for kind, raw in outputs.items():
        text = visible_text(raw, where)
        for item in wanted:
            if " ".join(item.split()) not in text.replace("\u00a0", " "):
                raise UserError(where, f"the {kind} statement it gives leaves out {item!r} (D3313-9)")
