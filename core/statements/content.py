"""The canonical content of an individual statement: ONE structure from which the text and the seal are derived.

Everything a statement states is here, as data; the template prints it (HTML and PDF alike) and the seal is the
hash of its canonical JSON (`seal.py`). It is a JSON document:

    format     "paybonus-statement/1"
    company    {id, name, siren, address: [lines], contact: {who, email, phone}}
    employee   {id, name, address: [lines], left_on}
    scheme     {id, label}                        label as printed: "intéressement", "intéressement de projet"
    period     {start, end}
    issued_on  "2026-04-15"                       the date of issue given by the user (--issued-on)
    channel    "email" | "post" | "hand" | "portal"  how it reaches the employee (--channel)
    lines      [{key, item, label, cents, text}]  every amount, in the order printed; `text` exactly as printed
    dates      {answer_by, payment_deadline}
    choice     {open, allocation, by_default, by_payment, savings_plan, per_only, plan, placed_on, company_per,
                account_keeper, how_to_ask, window_days, unavailability_years}
    annex      {intro, sections: [{title, blocks}]}  the scheme's note (D3313-9), already in French
    entries    [[entitlement id, digest], ...]    the ledger entries it shows, sorted

Line keys: global (1°), average (2°), total (3°), advances (3° bis), remaining (3° ter), withheld (4°), net,
interest, paid_part and placed_part (a split choice), placed_pee and placed_per (payments that placed sums in both
the PEE and the company PER: the cents of each plan, adding up to what was placed), csg, csg_deductible, crds (4° in
detail), taxable_if_paid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from paybonus.hooks.types import Kind, RecordedEntitlement, SchemeDescriptor, SocialRegime

from ..caches import Caches
from ..calendar import Period
from ..config import CompanyConfig
from ..deadlines import left_on
from ..errors import UserError
from ..events import canonical_json
from ..export import RecordedParameters
from ..french import de, eur, nb, percent, period_fr
from ..host import PluginHost
from ..params import Parameters, csg_crds
from ..payments import allocation, option_window, settled
from ..store import Ledger, LedgerReader
from .context import AnnexContext

FORMAT = "paybonus-statement/1"
CHANNELS = ("email", "post", "hand", "portal")


class StatementBuilder:
    """Builds the content of statements from the ledger, the installed schemes and the legal parameters. What is
    the same for every statement of a batch (a period's totals by employee, the leavers as of a day) is read once
    and kept for the builder's life: one builder a batch (`Paybonus.statements` makes its own)."""

    def __init__(
        self, ledger: Ledger, reader: LedgerReader, caches: Caches, host: PluginHost, params: Parameters
    ) -> None:
        self.ledger, self.reader, self.caches, self.host, self.params = ledger, reader, caches, host, params
        self._left: dict[tuple[str, date], dict[tuple[str, str], date]] = {}  # left_on() by company and day
        self._totals: dict[tuple[str, str, Period], list[tuple[str, int]]] = {}  # `totals`
        # each dispatch's parameter set parsed once, not once a statement
        self._recorded = RecordedParameters(ledger, params)

    def scheme(self, name: str) -> SchemeDescriptor:
        """The scheme, if it has statements: épargne salariale only (D3313-9), with an annex."""
        scheme = self.host.schemes.get(name)
        if scheme is None:
            known = ", ".join(sorted(self.host.schemes))
            raise UserError("--scheme", f"no installed scheme {name!r} (installed: {known})")
        if scheme.social_regime != SocialRegime.EPARGNE_SALARIALE:
            raise UserError(
                "--scheme",
                f"{name} is a salary-type bonus: its amount goes on the payslip, with no fiche distincte "
                "(D3313-9 is for intéressement and other épargne salariale)",
            )
        if scheme.statement_annex is None:
            raise UserError(
                "--scheme", f"{name} gives no annex for its statements (its plugin has no statement_annex)"
            )
        return scheme

    def totals(self, company: str, scheme: str, period: Period) -> list[tuple[str, int]]:
        """(employee, rights) of the scheme's period (`Entitlements.totals_by_employee`), read once: every
        statement prints the global amount and the average of them (a batch of 3 000 read them 3 000 times, 58 %
        of its time)."""
        key = (company, scheme, period)
        if key not in self._totals:
            self._totals[key] = self.ledger.entitlements.totals_by_employee(company, scheme, period)
        return self._totals[key]

    def beneficiaries(self, company: str, period: Period, scheme: str, employee: str | None) -> list[str]:
        """Who has rights of `scheme` for exactly `period`; an empty result names the filter that emptied it."""
        if self.caches.company(company) is None:
            raise UserError("--company", f"{company!r} is not loaded in {self.ledger.path}")
        people = sorted({e for e, _ in self.totals(company, scheme, period)})
        if employee is not None:
            if employee in people:
                return [employee]
            raise UserError(
                "--employee",
                f"{employee} has no {scheme} entitlement in {company} for {period}"
                + (f" ({len(people)} other beneficiaries have)" if people else ""),
            )
        if not people:
            periods = self.ledger.entitlements.periods(company, scheme)
            raise UserError(
                "--period",
                f"no {scheme} entitlement in {company} for {period}; "
                + (
                    "periods with entitlements: " + ", ".join(periods[:5])
                    if periods
                    else f"{company} has no {scheme} entitlement yet"
                ),
            )
        return people

    def build(
        self, company: str, employee: str, period: Period, scheme: str, issued_on: date, channel: str
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The content of one beneficiary's statement (see the module's docstring), and the ids of the rights
        it shows (principal and corrections)."""
        if channel not in CHANNELS:
            raise UserError("--channel", f"{channel!r} is not one of {', '.join(CHANNELS)}")
        descriptor = self.scheme(scheme)
        config = self.caches.company(company)
        if config is None:
            raise UserError("--company", f"{company!r} is not loaded in {self.ledger.path}")
        rows = self.ledger.entitlements.rows(company, scheme, period, employee, exact_period=True)
        if not rows:
            raise UserError("--employee", f"{employee} has no {scheme} entitlement in {company} for {period}")
        entitlements = [self.ledger.entitlements.recorded(r) for r in rows]
        rights = [e for e in entitlements if e.kind is not Kind.INTEREST]
        interest = [e for e in entitlements if e.kind is Kind.INTEREST]
        label = descriptor.label[:1].lower() + descriptor.label[1:]
        on = period.end
        total = sum(e.amount_cents for e in rights)
        paid = sum(self.ledger.payments.paid_cents(e.id) for e in rights)
        everyone = [t for _, t in self.totals(company, scheme, period)]
        global_cents = sum(everyone)
        n = sum(1 for t in everyone if t > 0)
        average = int((Decimal(global_cents) / max(n, 1)).to_integral_value(ROUND_HALF_UP))
        # the rates of the parameter set the computation recorded, never today's (docs/audit.md)
        c = csg_crds(self._recorded.of(rows[0]), total, on)
        # the amount of the period's computation: a principal, or the correction recorded after advances (I-41)
        principal = next(
            (e for e in rights if e.kind is Kind.PRINCIPAL),
            next(
                (e for e in reversed(rights) if e.kind is not Kind.ADVANCE),
                rights[0] if rights else entitlements[0],
            ),
        )
        advances = sum(e.amount_cents for e in rights if e.kind is Kind.ADVANCE)  # 3° bis
        alloc = allocation(self.ledger, principal.id, issued_on, self.params)
        # paid or placed in full already: nothing is left to choose (I-38); once the window closed, the default
        # stands only where the payments followed it (a sum paid out before the first statement was not "placed
        # for want of an answer", nor one placed in the company PER "placed in the PEE"). After a choice, where the
        # placed sums went is still the payments': a choice to place says nothing of the plan, and sums placed in
        # the company PER are unavailable until retirement, not 5 years (D3313-9 5°)
        settled = self._settled(rights, total, issued_on)
        if settled is not None and alloc.get("by") != "choice":
            if settled["allocation"] != alloc["allocation"] or settled["per"]:
                alloc = settled
        elif settled is not None and settled["per"]:
            alloc = {**alloc, **{k: settled[k] for k in ("per", "pee", "pee_cents", "per_cents")}}
        st = config.statement
        has_plan = config.info.has_savings_plan
        # a company PER without a PEE: a sum is placed (in the PER) only on the employee's request, and paid out
        # without an answer (I-38: the default placement is the PEE's); with neither plan, nothing is placed
        # (or payments already placed sums in a PER: a ledger recorded before `has_company_per`, whose company.toml
        # does not declare it, still reads what the payments did)
        per_only = not has_plan and (config.info.company_per or bool(alloc.get("per")))
        can_place = has_plan or per_only
        placed_on = COMPANY_PER if per_only else _placed_on(alloc, st.savings_plan)
        window_days = int(self.params.value("option_window_days", issued_on))
        window = option_window(self.ledger, principal.id, self.params)
        answer_by = window[1] if window else issued_on + timedelta(days=window_days)
        name = _period_name(period)
        lines = [
            _line("global", "1°", f"Montant global {_of_the(label)} {name} distribué", global_cents),
            _line(
                "average",
                "2°",
                f"Montant moyen perçu par les {n} bénéficiaires"
                if n > 1
                else "Montant moyen perçu (1 bénéficiaire)",
                average,
            ),
            _line("total", "3°", "Montant total de vos droits (brut)", total),
            _line("advances", "3° bis", "Avances déjà reçues", advances),
            # 3° ter: with advances, what remains to be received or to give back (L3348-1); else what is unpaid,
            # or what was paid beyond the rights (a downward correction recorded after the payment)
            _line("remaining", "3° ter", "Montant à reverser", advances - total)
            if advances > total
            else _line("remaining", "3° ter", "Montant à reverser", paid - total)
            if not advances and paid > total
            else _line(
                "remaining",
                "3° ter",
                "Montant restant à percevoir",
                total - advances if advances else total - paid,
            ),
            _line(
                "withheld",
                "4°",
                f"CSG et CRDS retenues ({percent(c.rate)} du montant brut)",
                -c.withheld_cents,
            ),
            _line(
                "net",
                "",
                "Montant net, que vous le perceviez ou le placiez" if can_place else "Montant net versé",
                total - c.withheld_cents,
            ),
        ]
        if interest:
            lines.append(
                _line(
                    "interest",
                    "",
                    "Intérêts de retard (article L3314-9)",
                    sum(e.amount_cents for e in interest),
                )
            )
        both_plans = bool(alloc.get("pee") and alloc.get("per"))
        if alloc["allocation"] == "split":
            placed = int(alloc.get("placed_cents") or 0)
            paid_out = alloc.get("paid_cents", total - placed)  # by payments: what was paid, not the rest
            lines.append(_line("paid_part", "", "dont part versée (montant brut)", paid_out))
            lines.append(_line("placed_part", "", f"dont part placée sur {placed_on} (montant brut)", placed))
        if both_plans:
            # the payments placed sums in the PEE and in the company PER: how much went to each plan, to the cent
            # as recorded, each plan with its own unavailability (D3313-9 5°, I-38); the shipped template prints
            # these two lines in place of a split's placed_part (their sum)
            for key, plan, cents in (
                ("placed_pee", st.savings_plan, alloc["pee_cents"]),
                ("placed_per", COMPANY_PER, alloc["per_cents"]),
            ):
                lines.append(_line(key, "", f"dont part placée sur {plan} (montant brut)", cents))
        lines += [
            _line("csg", "", f"CSG {percent(c.csg_rate)}", c.csg_cents),
            _line(
                "csg_deductible",
                "",
                f"{percent(c.csg_deductible_rate)}, déductibles de votre revenu imposable si vous demandez le versement",
                c.csg_deductible_cents,
            ),
            _line("crds", "", f"CRDS {percent(c.crds_rate)}", c.crds_cents),
            _line(
                "taxable_if_paid",
                "",
                "Montant imposable si vous demandez le versement",
                total - c.csg_deductible_cents,
            ),
        ]
        deadline = principal.due_date
        content = {
            "format": FORMAT,
            "company": {
                "id": company,
                "name": config.info.name,
                "siren": config.info.siren,
                "address": list(config.info.address),
                "contact": {"who": st.contact, "email": st.contact_email, "phone": st.contact_phone},
            },
            "employee": self._employee(company, employee, period, issued_on),
            "scheme": {"id": scheme, "label": label},
            "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
            "issued_on": issued_on.isoformat(),
            "channel": channel,
            "lines": lines,
            "dates": {
                "answer_by": answer_by.isoformat() if can_place else None,
                "payment_deadline": deadline.isoformat() if deadline else None,
            },
            "choice": {
                "open": can_place and alloc["allocation"] == "pending",
                "allocation": alloc["allocation"] if can_place else "paid",
                "by_default": alloc.get("by") not in ("choice", "payments"),
                "by_payment": alloc.get("by") == "payments",
                "savings_plan": has_plan,
                "per_only": per_only,  # no PEE, a company PER: placed on request only, paid out by default
                "plan": st.savings_plan,
                "placed_on": placed_on,
                "company_per": bool(alloc.get("per"))
                or (per_only and alloc["allocation"] in ("placed", "split")),
                "account_keeper": st.account_keeper,
                "how_to_ask": st.how_to_ask,
                "window_days": window_days,
                "unavailability_years": int(self.params.value("pee_unavailability_years", on)),
            },
            "annex": self._annex(descriptor, config, entitlements),
            "entries": sorted([r["id"], r["digest"]] for r in rows),
        }
        return content, tuple(e.id for e in rights)

    def _settled(
        self, rights: Sequence[RecordedEntitlement], total: int, issued_on: date
    ) -> dict[str, Any] | None:
        """The allocation the payments recorded up to the issue date made of rights then paid in full
        (`payments.settled`); None while anything is still due."""
        by_mode: dict[str, int] = {}
        for e in rights:
            for row in self.ledger.payments.of(e.id):
                if date.fromisoformat(row["paid_on"]) <= issued_on:
                    by_mode[row["mode"]] = by_mode.get(row["mode"], 0) + int(row["amount_cents"])
        return settled(by_mode, total)

    def _employee(self, company: str, employee: str, period: Period, issued_on: date) -> dict[str, Any]:
        address = ""
        for ev in self.reader.events(company, "employee_left", employee):
            address = ev.payload.forwarding_address or address
        # the departure true on the date of issue, as the deadlines see it (I-44, I-45): none if he is under
        # contract again (hired again after he left), the end of his latest contract if it ended
        if (company, issued_on) not in self._left:
            self._left[company, issued_on] = left_on(self.ledger, issued_on, company)
        left = self._left[company, issued_on].get((company, employee))
        if left is not None and left > issued_on:  # announced, not yet gone
            left = None
        return {
            "id": employee,
            "name": self.ledger.companies.display_name(company, employee) or employee,
            "address": [x.strip() for x in address.replace(";", "\n").split("\n") if x.strip()],
            "left_on": left.isoformat() if left else None,
        }

    def _annex(
        self, scheme: SchemeDescriptor, config: CompanyConfig, entitlements: Sequence[RecordedEntitlement]
    ) -> dict[str, Any]:
        assert scheme.statement_annex is not None
        st = config.statement
        ctx = AnnexContext(
            self.host,
            self.reader,
            self.caches.populations,
            config.info,
            self.caches.scheme_config(config, scheme),
            scheme,
            self.params,
            {k: {"label": v.label, **({"unit": v.unit} if v.unit else {})} for k, v in st.figures.items()},
            st.formulas.get(scheme.name),
        )
        return _typeset(scheme.statement_annex(entitlements, ctx).to_dict())


def _typeset(value: Any) -> Any:
    """Every string of the annex with French punctuation (`paybonus.french.nb`), as it is printed."""
    if isinstance(value, str):
        return nb(value)
    if isinstance(value, list):
        return [_typeset(v) for v in value]
    if isinstance(value, dict):
        return {k: _typeset(v) for k, v in value.items()}
    return value


def _of_the(label: str) -> str:
    """ "de l'intéressement", "du ..." (a scheme's label is a masculine noun, as intéressement)."""
    return ("de l'" if label[:1] in "aeiouyéèêàâîôû" else "du ") + label


COMPANY_PER = "le plan d'épargne retraite d'entreprise (PER)"


def _placed_on(alloc: Mapping[str, Any], savings_plan: str) -> str:
    """Where the placed sums went: the PEE, unless the payments (`placed_per`) put them in the company PER."""
    if not alloc.get("per"):
        return savings_plan
    return f"{savings_plan} et {COMPANY_PER}" if alloc.get("pee") else COMPANY_PER


def _line(key: str, item: str, label: str, cents: int) -> dict[str, Any]:
    return {"key": key, "item": item, "label": label, "cents": cents, "text": eur(cents)}


def _period_name(period: Period) -> str:
    """ "2025" (a calendar year), "2025-2026" (another exercise), else "du 1er janvier au 31 mars 2025"."""
    if period.whole_months() == 12:
        return str(period.start.year) if period.start.month == 1 else f"{period.start.year}-{period.end.year}"
    return period_fr(period.start, period.end)


def words(content: Mapping[str, Any]) -> dict[str, str]:
    """The ready-made words the template uses, derived from the content alone."""
    period = Period(
        date.fromisoformat(content["period"]["start"]), date.fromisoformat(content["period"]["end"])
    )
    label = content["scheme"]["label"]
    name = _period_name(period)
    annual = period.whole_months() == 12
    return {
        "label": label,
        "period_name": name,
        "for_period": f"l'exercice {name}" if annual else f"la période {name}",
        "title": f"Relevé individuel {de(label)}" + (f" {name}" if annual else ""),
        "channel_fr": {
            "email": "qui vous est adressé par courriel",
            "post": "qui vous est envoyé par courrier",
            "hand": "qui vous est remis en main propre",
            "portal": "mis à votre disposition sur votre espace salarié",
        }[content["channel"]],
    }


def canonical(content: Mapping[str, Any]) -> bytes:
    """The content's canonical JSON bytes (sorted keys, no spaces, UTF-8): what the seal is computed over."""
    return canonical_json(content).encode("utf-8")


def sample(company: CompanyConfig) -> dict[str, Any]:
    """A made-up statement of the company, to try its own template on when it is loaded."""
    annex = {
        "intro": "Accord d'intéressement conclu le 10 mars 2025.",
        "sections": [
            {
                "title": "1. Le montant global",
                "blocks": [
                    {
                        "kind": "text",
                        "text": "Selon l'accord, l'intéressement global est égal à 10 % du résultat.",
                    },
                    {"kind": "note", "text": "Les parts sont calculées au centime."},
                    {"kind": "list", "items": ["Part uniforme : la même somme pour chaque bénéficiaire."]},
                    {
                        "kind": "table",
                        "columns": ["Critère", "Votre part"],
                        "rows": [["Part uniforme", eur(100_000)]],
                        "widths": [70, 30],
                        "numeric": [False, True],
                        "total": ["Total", eur(100_000)],
                    },
                ],
            }
        ],
    }
    st = company.statement
    # the company's own case (a PEE, a PER only, neither): its template is tried on the choice its statements show
    has_plan = company.info.has_savings_plan
    per_only = not has_plan and company.info.company_per
    can_place = has_plan or per_only
    lines = [
        _line("global", "1°", "Montant global de l'intéressement 2025 distribué", 3_000_000),
        _line("average", "2°", "Montant moyen perçu par les 30 bénéficiaires", 100_000),
        _line("total", "3°", "Montant total de vos droits (brut)", 100_000),
        _line("advances", "3° bis", "Avances déjà reçues", 0),
        _line("remaining", "3° ter", "Montant restant à percevoir", 100_000),
        _line("withheld", "4°", "CSG et CRDS retenues (9,7 % du montant brut)", -9_700),
        _line("net", "", "Montant net, que vous le perceviez ou le placiez", 90_300),
        _line("csg", "", "CSG 9,2 %", 9_200),
        _line("csg_deductible", "", "6,8 %, déductibles de votre revenu imposable", 6_800),
        _line("crds", "", "CRDS 0,5 %", 500),
        _line("taxable_if_paid", "", "Montant imposable si vous demandez le versement", 93_200),
    ]
    return {
        "format": FORMAT,
        "company": {
            "id": company.info.id,
            "name": company.info.name,
            "siren": company.info.siren,
            "address": list(company.info.address),
            "contact": {"who": st.contact, "email": st.contact_email, "phone": st.contact_phone},
        },
        "employee": {"id": "E0001", "name": "Camille Martin", "address": [], "left_on": None},
        "scheme": {"id": "interessement", "label": "intéressement"},
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
        "issued_on": "2026-04-15",
        "channel": "email",
        "lines": lines,
        "dates": {"answer_by": "2026-04-30" if can_place else None, "payment_deadline": "2026-05-31"},
        "choice": {
            "open": can_place,
            "allocation": "pending" if can_place else "paid",
            "by_default": True,
            "by_payment": False,
            "savings_plan": has_plan,
            "per_only": per_only,
            "plan": st.savings_plan,
            "placed_on": COMPANY_PER if per_only else st.savings_plan,
            "company_per": False,
            "account_keeper": st.account_keeper,
            "how_to_ask": st.how_to_ask,
            "window_days": 15,
            "unavailability_years": 5,
        },
        "annex": annex,
        "entries": [["ENT-sample", "0" * 64]],
    }
