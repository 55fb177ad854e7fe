"""After the computation: payments, the employee's choice and statements, as the core checks and reads them.

`payment_recorded` pays (part of) an entitlement: the amount can never exceed what is still due, and the
entitlement's status moves from `due` to `partly_paid`, then `paid`, `placed` or `paid_and_placed`.
`statement_issued` records that the individual statement reached the employee, which opens the 15-day window of
the employee's choice (LAW I-37, I-38); `option_chosen` records the choice inside that window. With no answer,
the sums are placed when the company has a savings plan (PEE), otherwise paid.

Where placed sums go: the PEE (`placed`, `has_savings_plan`) or the company PER (`placed_per`, `has_company_per`
or `per_qualifying`); a payment into a plan the company does not have is refused. A company without a PEE but
with a PER takes a choice to place (or a split): its placed part goes to the PER, the only mode its payments can
then use; with neither plan, nothing can be placed and such a choice is refused (the sum is paid out).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from paybonus.hooks.types import CompanyInfo, SocialRegime

from .config import parse_company_toml
from .events import Event, not_ahead
from .params import Parameters
from .store import Ledger, PaymentRecord

CHECKED = frozenset({"payment_recorded", "statement_issued", "option_chosen"})


def outstanding(ledger: Ledger, entitlement_id: str) -> int:
    row = ledger.entitlements.get(entitlement_id)
    return 0 if row is None else int(row["amount_cents"]) - ledger.payments.paid_cents(entitlement_id)


def check(
    ledger: Ledger, event: Event[Any], pending: dict[str, int], params: Parameters, today: date
) -> None:
    """Refuse what cannot be recorded (ValueError, one line). `pending`: payments earlier in the same batch;
    `today`: the day it is recorded."""
    p = event.payload
    row = ledger.entitlements.get(p.entitlement)
    if row is None or row["company"] != event.company:
        raise ValueError(
            f"payload.entitlement: no entitlement {p.entitlement!r} for company {event.company!r}"
        )
    _check_not_ahead(event, today)
    if event.type == "payment_recorded":
        if row["amount_cents"] < 0:
            raise ValueError(f"payload.entitlement: a negative {row['kind']} is recovered, not paid")
        if p.paid_on < date.fromisoformat(row["period_start"]):  # a typo in the year: recorded for good
            raise ValueError(
                f"payload.paid_on: {p.paid_on} is before the period of {p.entitlement} starts ({row['period_start']})"
            )
        if p.mode != "paid" and row["social_regime"] != SocialRegime.EPARGNE_SALARIALE:
            raise ValueError("payload.mode: only intéressement-type sums can be placed in a savings plan")
        if p.mode == "placed" and not has_savings_plan(ledger, event.company):
            raise ValueError(
                f"payload.mode: company {event.company!r} has no savings plan (has_savings_plan = false in its "
                "company.toml): nothing can be placed in a PEE (`placed_per` for the company PER)"
            )
        if p.mode == "placed_per" and not _has_company_per(ledger, event.company):
            raise ValueError(
                f"payload.mode: company {event.company!r} has no company PER (has_company_per = false in its "
                "company.toml): nothing can be placed in a PER"
            )
        due = (
            int(row["amount_cents"])
            - ledger.payments.paid_cents(p.entitlement)
            - pending.get(p.entitlement, 0)
        )
        if p.amount_cents > due:
            raise ValueError(
                "payload.amount_cents: more than is still due on this entitlement "
                f"(`paybonus explain {p.entitlement}` shows what is due)"
            )
        mode = "paid" if p.mode == "paid" else "placed"
        paid, placed = _paid_and_placed(ledger, p.entitlement, pending)
        paid, placed = (paid + p.amount_cents, placed) if mode == "paid" else (paid, placed + p.amount_cents)
        # late interest goes where its principal goes (I-40: paid with it; the export gives it the principal's
        # allocation): the principal's choice, or its default after the window, binds the interest too, unless
        # payments paid the principal out before (`_settled_as`): then it follows them
        target = row["corrects"] if row["kind"] == "interest" and row["corrects"] else p.entitlement
        chosen = _choice(ledger, target, pending)
        if chosen is not None and target != p.entitlement and chosen[0] == "split":
            chosen = ("split", None)  # a split counts the principal's cents: the interest may go either way
        if chosen is not None:
            if _contradiction(*chosen, int(row["amount_cents"]), paid, placed):
                raise ValueError(
                    f"payload.mode: the employee chose {chosen[0]!r} (option_chosen): this payment would "
                    f"{'pay out' if mode == 'paid' else 'place'} more than that choice allows (I-38)"
                )
        elif row["social_regime"] == SocialRegime.EPARGNE_SALARIALE:
            window = option_window(ledger, target, params)
            closed = window[1] if window is not None else None
            late = closed is not None and p.paid_on > closed
            pee = late and has_savings_plan(ledger, event.company)
            if (
                late
                and mode == "paid"
                and pee
                and not (target != p.entitlement and _settled_as(ledger, target, pending, ("paid", "split")))
            ):
                raise ValueError(
                    f"payload.mode: no choice was recorded by the end of the window ({closed}): the sum is "
                    "placed in the savings plan, not paid out (I-38)"
                )
            # the other way round without a PEE: nothing is placed for want of an answer, and a company PER takes
            # only what the employee asked to place (I-38); interest follows a principal the payments placed
            if (
                late
                and mode == "placed"
                and not pee
                and not (
                    target != p.entitlement and _settled_as(ledger, target, pending, ("placed", "split"))
                )
            ):
                raise ValueError(
                    f"payload.mode: no choice was recorded by the end of the window ({closed}): without a PEE "
                    "the sum is paid out, not placed in the company PER (I-38: placed only on request)"
                )
            # with a PEE, the sum is placed in the PEE for want of an answer (I-38), not in the company PER, which
            # takes only what the employee asked to place (until retirement, where the PEE holds it 5 years);
            # interest follows a principal the payments placed in the PER, not one they placed in the PEE (I-40)
            if (
                late
                and p.mode == "placed_per"
                and pee
                and not (
                    target != p.entitlement
                    and _settled_as(ledger, target, pending, ("placed", "split"))
                    and _placed_per(ledger, target, pending) > 0
                )
            ):
                raise ValueError(
                    f"payload.mode: no choice was recorded by the end of the window ({closed}): the sum is "
                    "placed in the PEE, not in the company PER (I-38: placed in the PER only on request)"
                )
        pending[p.entitlement] = pending.get(p.entitlement, 0) + p.amount_cents
        pending[f"{mode}:{p.entitlement}"] = pending.get(f"{mode}:{p.entitlement}", 0) + p.amount_cents
        if p.mode == "placed_per":  # of the placed cents, those in the company PER (`_placed_per`)
            pending[f"placed_per:{p.entitlement}"] = (
                pending.get(f"placed_per:{p.entitlement}", 0) + p.amount_cents
            )
    elif event.type == "statement_issued":
        # issued before the period is over, the first statement opens the 15-day window (I-38) on a wrong date
        # that no later statement can move: the employee's choice would be lost
        if p.issued_on <= date.fromisoformat(row["period_end"]):
            raise ValueError(
                f"payload.issued_on: {p.issued_on} is not after the period of {p.entitlement} ends "
                f"({row['period_end']}): statements are issued once it is over"
            )
        key = f"statement:{p.entitlement}"
        pending[key] = min(pending.get(key, p.issued_on.toordinal()), p.issued_on.toordinal())
    elif event.type == "option_chosen":
        if row["social_regime"] != SocialRegime.EPARGNE_SALARIALE:
            raise ValueError(
                "payload.entitlement: the choice to place applies to intéressement-type sums only"
            )
        if p.placed_cents is not None and p.placed_cents >= row["amount_cents"]:
            raise ValueError("payload.placed_cents: a split places less than the whole amount")
        if p.choice != "paid" and not (
            has_savings_plan(ledger, event.company) or _has_company_per(ledger, event.company)
        ):
            raise ValueError(
                f"payload.choice: company {event.company!r} has no PEE and no company PER (has_savings_plan and "
                "has_company_per false in its company.toml): nothing can be placed, only 'paid' can be chosen"
            )
        window = option_window(ledger, p.entitlement, params)
        earlier = pending.get(f"statement:{p.entitlement}")
        if window is None and earlier is not None:  # issued earlier in the same batch
            window = _window(date.fromordinal(earlier), params)
        if window is None:
            raise ValueError(
                "payload.entitlement: no statement was issued yet, the choice window is not open"
            )
        if not window[0] <= p.chosen_on <= window[1]:
            raise ValueError(
                f"payload.chosen_on: {p.chosen_on} is outside the choice window {window[0]}..{window[1]} (I-38)"
            )
        paid, placed = _paid_and_placed(ledger, p.entitlement, pending)
        done = _contradiction(p.choice, p.placed_cents, int(row["amount_cents"]), paid, placed)
        if done:
            raise ValueError(
                f"payload.choice: more of the sum was already {'paid out' if done == 'paid' else 'placed'} "
                f"than {p.choice!r} allows (payment_recorded): a choice cannot undo a payment"
            )
        pending[f"choice:{p.entitlement}"] = _CHOICE_CODES.get(p.choice, p.placed_cents or 0)


_DATED = {"payment_recorded": "paid_on", "statement_issued": "issued_on", "option_chosen": "chosen_on"}


def _check_not_ahead(event: Event[Any], today: date) -> None:
    """These events report what happened (`events.not_ahead`): a payment in 2062 asks late interest for a TMOP
    that cannot exist yet; a statement then would move the choice window years on."""
    not_ahead(event, _DATED[event.type], today)


# a choice earlier in the batch, kept among `check`'s pending integers: paid, placed, or the cents a split places
_CHOICE_CODES = {"paid": 0, "placed": -1}


def _choice(ledger: Ledger, entitlement_id: str, pending: dict[str, int]) -> tuple[str, int | None] | None:
    """The employee's latest choice (earlier in the batch, else recorded): (choice, placed cents of a split)."""
    code = pending.get(f"choice:{entitlement_id}")
    if code is not None:
        return ("paid", None) if code == 0 else ("placed", None) if code == -1 else ("split", code)
    chosen = ledger.events.about(entitlement_id, "option_chosen")
    if not chosen:
        return None
    return chosen_in(chosen[-1]["payload"])


def chosen_in(payload: str) -> tuple[str, int | None]:
    """(choice, placed cents of a split) of an `option_chosen` event's stored payload."""
    p = json.loads(payload)
    return str(p["choice"]), p.get("placed_cents")


def _settled_as(
    ledger: Ledger, principal_id: str, pending: dict[str, int], allocations: tuple[str, ...]
) -> bool:
    """Whether payments paid all of a principal with no choice, as one of `allocations` (`settled`): paid or split
    (some of it out: the default after the window did not place it), placed or split (some of it placed: a
    company without a PEE did not pay it all out); its late interest, paid with it (I-40), may go the same way."""
    principal = ledger.entitlements.get(principal_id)
    if principal is None:
        return False
    paid, placed = _paid_and_placed(ledger, principal_id, pending)
    done = settled({"paid": paid, "placed": placed}, int(principal["amount_cents"]))
    return done is not None and done["allocation"] in allocations


def _paid_and_placed(ledger: Ledger, entitlement_id: str, pending: dict[str, int]) -> tuple[int, int]:
    """Cents paid out and cents placed (PEE or PER) so far, the batch's earlier payments included."""
    by_mode = ledger.payments.paid_by_mode(entitlement_id)
    paid = by_mode.get("paid", 0) + pending.get(f"paid:{entitlement_id}", 0)
    placed = sum(c for m, c in by_mode.items() if m != "paid") + pending.get(f"placed:{entitlement_id}", 0)
    return paid, placed


def _placed_per(ledger: Ledger, entitlement_id: str, pending: dict[str, int]) -> int:
    """Cents placed in the company PER so far, the batch's earlier payments included."""
    return ledger.payments.paid_by_mode(entitlement_id).get("placed_per", 0) + pending.get(
        f"placed_per:{entitlement_id}", 0
    )


def _contradiction(choice: str, placed_cents: int | None, amount: int, paid: int, placed: int) -> str | None:
    """What payments of `paid` and `placed` cents do that the employee's choice (I-38) does not allow, or None:
    'placed' (placed what was to be paid out), 'paid' (the reverse). Never an amount: it is someone's pay."""
    if choice == "paid" and placed:
        return "placed"
    if choice == "placed" and paid:
        return "paid"
    if choice == "split" and placed_cents is not None:
        if placed > placed_cents:
            return "placed"
        if paid > amount - placed_cents:
            return "paid"
    return None


def payment_of(event: Event[Any]) -> PaymentRecord | None:
    """The payment row a `payment_recorded` event writes with it (None for any other event)."""
    if event.type != "payment_recorded":
        return None
    p = event.payload
    return PaymentRecord(p.entitlement, p.amount_cents, p.paid_on.isoformat(), p.mode)


def option_window(ledger: Ledger, entitlement_id: str, params: Parameters) -> tuple[date, date] | None:
    """(first day, last day) of the employee's choice window, from the first statement issued (I-38)."""
    return window_of([r["payload"] for r in ledger.events.about(entitlement_id, "statement_issued")], params)


def window_of(issued: Sequence[str], params: Parameters) -> tuple[date, date] | None:
    """The choice window opened by the first of these `statement_issued` events (their stored payloads; None for
    none)."""
    days = [date.fromisoformat(json.loads(payload)["issued_on"]) for payload in issued]
    return _window(min(days), params) if days else None


def _window(issued: date, params: Parameters) -> tuple[date, date]:
    return issued, issued + timedelta(days=params.value("option_window_days", issued))


def allocation(ledger: Ledger, entitlement_id: str, as_of: date, params: Parameters) -> dict[str, Any]:
    """What happens to the sum: the employee's choice, else the default once the window closed (I-38)."""
    chosen = _choice(ledger, entitlement_id, {})

    def has_plan() -> bool:
        ent = ledger.entitlements.get(entitlement_id)
        return has_savings_plan(ledger, ent["company"]) if ent else False

    window = None if chosen is not None else option_window(ledger, entitlement_id, params)
    return decided(chosen, window, has_plan, as_of)


def decided(
    chosen: tuple[str, int | None] | None,
    window: tuple[date, date] | None,
    has_plan: Callable[[], bool],
    as_of: date,
) -> dict[str, Any]:
    """`allocation`'s rule (I-38) on what was read: the employee's latest choice (choice, placed cents of a split),
    the choice window (None before any statement) and whether the company has a savings plan (asked only once the
    window closed with no choice)."""
    if chosen is not None:
        return {"allocation": chosen[0], "placed_cents": chosen[1], "by": "choice"}
    if window is None:
        return {"allocation": "pending", "by": "no statement issued yet"}
    if as_of <= window[1]:
        return {"allocation": "pending", "by": f"window open until {window[1]}"}
    return {"allocation": "placed" if has_plan() else "paid", "by": "default after the window (I-38)"}


def settled(by_mode: dict[str, int], total: int) -> dict[str, Any] | None:
    """The allocation recorded payments (`by_mode`: their cents by mode) made of rights of `total` cents once they
    paid or placed all of it: paid out, placed (PEE or PER), or both (a split, with the cents placed); None while
    anything is still due. Where it differs from the default after the window, it wins (I-38: a sum paid out before
    the window closed was not "placed for want of an answer"). The statements and the export read it alike."""
    paid = by_mode.get("paid", 0)
    placed = sum(c for m, c in by_mode.items() if m != "paid")
    if total <= 0 or paid + placed < total:
        return None
    allocation = "split" if paid and placed else "placed" if placed else "paid"
    return {
        "allocation": allocation,
        "placed_cents": placed if allocation == "split" else None,
        "paid_cents": paid,  # what was paid out, even above rights a recomputation cut since
        "by": "payments",
        "per": by_mode.get("placed_per", 0) > 0,  # some of it went to the company PER, not the PEE
        "pee": by_mode.get("placed", 0) > 0,
        "pee_cents": by_mode.get("placed", 0),  # the cents placed in each plan, as the payments recorded them
        "per_cents": by_mode.get("placed_per", 0),
    }


def has_savings_plan(ledger: Ledger, company: str) -> bool:
    """Whether the company's stored configuration declares a savings plan (PEE)."""
    toml = ledger.companies.toml(company)
    return toml is not None and _company_info(toml).has_savings_plan


def _has_company_per(ledger: Ledger, company: str) -> bool:
    toml = ledger.companies.toml(company)
    return toml is not None and _company_info(toml).company_per


@functools.lru_cache(maxsize=64)
def _company_info(toml: str) -> CompanyInfo:
    return parse_company_toml(toml, "company (stored)").info
