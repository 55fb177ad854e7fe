"""Integer-cent money: parsing, formatting, rounding, exact allocation and caps.

Every amount paybonus stores or moves is an `int` number of cents. `Decimal` appears only where a formula needs
fractional arithmetic, and is turned back into cents by `to_cents` with an explicit rounding rule (LAW 8).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


def share_half_up(cents: int, part: int, whole: int) -> int:
    """`cents` x `part` / `whole` rounded half up (away from zero), in integers: no float or Decimal touches the
    cents (0 when `whole` is 0)."""
    if whole == 0:
        return 0
    n = cents * part if whole > 0 else -cents * part
    q = (2 * abs(n) + abs(whole)) // (2 * abs(whole))
    return q if n >= 0 else -q


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
