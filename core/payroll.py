"""Payroll data as schemes see it: contracts, monthly pay lines and absences of a period's population."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from attrs import field, frozen

from .calendar import Period


class AbsenceKind(enum.StrEnum):
    """Absence reasons, after the DSN codes (S21.G00.60.001 and S21.G00.65.001, see DSN.md)."""

    ILLNESS = "illness"  # 01
    MATERNITY = "maternity"  # 02
    PATERNITY = "paternity"  # 03 (paternity and childcare)
    COMMUTING_ACCIDENT = "commuting_accident"  # 04
    OCCUPATIONAL_DISEASE = "occupational_disease"  # 05
    WORK_ACCIDENT = "work_accident"  # 06
    ADOPTION = "adoption"  # 09
    BEREAVEMENT = "bereavement"  # 19 (and L3142-1-1 leave)
    QUARANTINE = "quarantine"
    ACTIVITE_PARTIELLE = "activite_partielle"  # S21.G00.65 602
    UNPAID_LEAVE = "unpaid_leave"  # S21.G00.65 501
    STRIKE = "strike"
    OTHER = "other"


DSN_WORK_STOPPAGE = {
    "01": AbsenceKind.ILLNESS,
    "02": AbsenceKind.MATERNITY,
    "03": AbsenceKind.PATERNITY,
    "04": AbsenceKind.COMMUTING_ACCIDENT,
    "05": AbsenceKind.OCCUPATIONAL_DISEASE,
    "06": AbsenceKind.WORK_ACCIDENT,
    "07": AbsenceKind.MATERNITY,
    "09": AbsenceKind.ADOPTION,
    "19": AbsenceKind.BEREAVEMENT,
}
DSN_OTHER_SUSPENSION = {"602": AbsenceKind.ACTIVITE_PARTIELLE, "501": AbsenceKind.UNPAID_LEAVE}


@frozen
class Contract:
    start: date
    end: date | None  # None: still running

    def span(self, within: Period) -> Period | None:
        """The days of `within` under this contract (None: none)."""
        s = max(self.start, within.start)
        e = within.end if self.end is None else min(self.end, within.end)
        return Period(s, e) if s <= e else None


@frozen
class Absence:
    kind: AbsenceKind
    start: date
    end: date
    period: Period = field(init=False, eq=False, repr=False)  # built once: presence loops read it often

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "period", Period(self.start, self.end))


@frozen
class PayLine:
    """One employee's pay for one month. Amounts in cents, hours as exact decimals."""

    month: date  # first day of the month
    gross_cents: int  # gross salary subject to contributions (DSN 51 type 001), activité partielle excluded
    base_cents: int  # base salary of the month (DSN 51 type 010)
    contract_hours: Decimal  # contractual hours of the month (151.67 full time)
    ap_hours: Decimal = Decimal(0)  # activité partielle hours not worked (DSN 51 type 019)
    ap_indemnity_cents: int = 0  # activité partielle indemnity, not salary (LAW I-19)
    reconstituted_cents: int | None = (
        None  # salary the employee would have earned (DSN 51 type 003; I-26, I-27)
    )
    cp_caisse_cents: int = 0  # congés payés indemnities paid by a caisse de congés payés (LAW I-18)
    # the part of the activité partielle indemnity subject to contributions (above 3.15 SMIC, LAW I-19); None:
    # not given, computed from ap_hours and ap_indemnity where needed
    ap_subject_cents: int | None = None


@frozen
class EmployeeRecord:
    id: str
    contracts: tuple[Contract, ...]
    pay: tuple[PayLine, ...] = ()
    absences: tuple[Absence, ...] = ()
    category: str = ""
    establishment: str = ""
    work_unit: str = ""  # e.g. a team or project unit (employees.csv `work_unit`)
    # contracts with other companies of the group: seniority only, where an agreement says so (D-12)
    group_contracts: tuple[Contract, ...] = ()

    def employed_days(self, period: Period) -> int:
        """Calendar days under contract within `period`, all contracts added up (LAW I-13)."""
        total = 0
        for c in self.contracts:  # on the hot path: date arithmetic, no Period objects
            s = max(c.start, period.start)
            e = period.end if c.end is None else min(c.end, period.end)
            if s <= e:
                total += (e - s).days + 1
        return total

    def pay_in(self, period: Period) -> Iterator[PayLine]:
        return (p for p in self.pay if period.start <= p.month <= period.end)


@frozen
class Population:
    """Everyone under contract at some point of `period` (or paid in it), in employee-id order."""

    company: str
    period: Period
    employees: tuple[EmployeeRecord, ...]

    def payroll_cents(self) -> int:
        """Gross salaries paid in the period to all staff (activité partielle indemnities excluded, I-18, I-19)."""
        return sum(p.gross_cents for e in self.employees for p in e.pay_in(self.period))

    def cp_caisse_cents(self) -> int:
        """Congés payés indemnities paid by a caisse de congés payés in the period, all staff (I-18)."""
        return sum(p.cp_caisse_cents for e in self.employees for p in e.pay_in(self.period))
