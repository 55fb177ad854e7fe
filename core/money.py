"""Integer-cent money: parsing, formatting, rounding, exact allocation and caps.

Every amount paybonus stores or moves is an `int` number of cents. `Decimal` appears only where a formula needs
fractional arithmetic, and is turned back into cents by `to_cents` with an explicit rounding rule (LAW 8).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

_AMOUNT = re.compile(r"^(-)?([0-9]{1,15})(?:\.([0-9]{1,2}))?$")
CENT = Decimal("0.01")


def parse_euros(text: str) -> int:
    """Parse '1234.56' (dot decimal, at most 2 decimals) into cents. Raises ValueError with a precise reason."""
    s = text.strip()
    m = _AMOUNT.match(s)
    if not m:
        raise ValueError(
            f"'{text}' is not an amount in euros (expected digits with a dot and at most 2 decimals)"
        )
    sign, units, dec = m.groups()
    cents = int(units) * 100 + int((dec or "0").ljust(2, "0"))
    return -cents if sign else cents


def format_euros(cents: int, *, french: bool = False) -> str:
    """12345 -> '123.45' (or '123,45 €' in French style, with thin grouping)."""
    sign = "-" if cents < 0 else ""
    units, dec = divmod(abs(cents), 100)
    if french:
        grouped = f"{units:,}".replace(",", "\u202f")
        return f"{sign}{grouped},{dec:02d} €"
    return f"{sign}{units}.{dec:02d}"


def to_decimal(cents: int) -> Decimal:
    """Cents as a Decimal number of euros (exact)."""
    return Decimal(cents) / 100


def to_cents(euros: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """Round a Decimal number of euros to cents (half-up by default, LAW 8) and return an int."""
    try:
        return int((euros * 100).quantize(Decimal(1), rounding=rounding))
    except InvalidOperation as exc:  # NaN or infinity
        raise ValueError(f"cannot turn {euros!r} into cents") from exc


def floor_cents(euros: Decimal) -> int:
    """Truncate a Decimal number of euros to whole cents (towards zero)."""
    return to_cents(euros, ROUND_DOWN)


def scale_weights(weights: Sequence[Decimal | int]) -> list[int]:
    """Turn Decimal weights into integers with the same ratios (exact), for `allocate`."""
    exp = 0
    for w in weights:
        if isinstance(w, Decimal):
            t = w.as_tuple().exponent
            if isinstance(t, int) and -t > exp:
                exp = -t
    factor = 10**exp
    return [int(Decimal(w) * factor) for w in weights]


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` cents in proportion to integer `weights`, exactly (largest remainder, LAW 8).

    Every share is floor(total * w / W) or one cent more; the sum is `total`; ties in the remainder go to the
    lowest index, so the result depends only on the order of `weights`. Zero total weight gives all zeros.
    """
    if total < 0:
        raise ValueError("cannot allocate a negative total")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    W = sum(weights)
    if W == 0 or total == 0:
        return [0] * len(weights)
    shares: list[int] = []
    rems: list[int] = []
    for w in weights:
        q, r = divmod(total * w, W)
        shares.append(q)
        rems.append(r)
    left = total - sum(shares)
    if left:
        order = sorted(range(len(weights)), key=lambda i: (-rems[i], i))
        for i in order[:left]:
            shares[i] += 1
    return shares


def allocate_capped(
    total: int, weights: Sequence[int], caps: Sequence[int | None], *, redistribute: bool
) -> tuple[list[int], int, int]:
    """Allocate `total` by `weights` without any share exceeding its cap.

    With `redistribute`, what a cap blocks is shared again among those still below their cap with the same
    weights, as often as needed (LAW I-35); otherwise it stays undistributed (I-36).
    Returns (shares, undistributed cents, rounds used). Sum of shares + undistributed == total.
    """
    n = len(weights)
    shares = [0] * n
    open_ = [i for i in range(n) if weights[i] > 0 and (caps[i] is None or caps[i] > 0)]  # type: ignore[operator]
    remaining = total
    rounds = 0
    while remaining > 0 and open_:
        rounds += 1
        part = allocate(remaining, [weights[i] for i in open_])
        still_open: list[int] = []
        blocked = 0
        for i, p in zip(open_, part, strict=True):
            cap = caps[i]
            room = None if cap is None else cap - shares[i]
            if room is not None and p >= room:
                shares[i] += room
                blocked += p - room
            else:
                shares[i] += p
                still_open.append(i)
        remaining = blocked
        if not redistribute:
            break
        open_ = still_open
    return shares, remaining, rounds


def cap(amount: int, limit: int | None) -> int:
    """min(amount, limit), with None meaning no limit."""
    return amount if limit is None else min(amount, limit)
