"""Pool distribution: criterion sub-pools, proportional shares, individual caps and reliquat (LAW I-21 to I-36).

`distribute` splits a pool (cents) into sub-pools (one criterion each, I-22), shares each sub-pool in proportion
to the beneficiaries' weights for that criterion (largest remainder, exact to the cent), then applies each
person's cap. What a cap blocks is either redistributed among those still below their cap, with the same rules,
round after round (I-35), or left undistributed (I-36).

Each person's trace (`Share.rounds`) holds, per round and sub-pool, [criterion, sub-pool cents, weight, total
weight, extra cent]; `replay` gives the amount back from the trace and the cap alone, which is how an
entitlement is recomputed from its stored explanation.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from attrs import frozen

from .money import allocate


class Criterion(enum.StrEnum):
    UNIFORM = "uniform"
    PRESENCE = "presence"
    SALARY = "salary"


@frozen
class Person:
    """A beneficiary's weights for each criterion (integers) and cap room in cents (None: no cap)."""

    id: str
    weights: dict[Criterion, int]
    cap: int | None = None


@frozen
class Share:
    id: str
    amount: int
    rounds: list[list[list[Any]]]  # rounds -> sub-pool parts [criterion, pool, weight, total, extra]
    cap: int | None
    capped: bool


@frozen
class Result:
    shares: list[Share]
    undistributed: int
    rounds: int
    subpools: list[tuple[str, int]]  # first round's split: (criterion, cents)


def split_pool(pool: int, subpools: Sequence[tuple[Criterion, int]]) -> list[int]:
    """Split `pool` cents by integer sub-pool weights (e.g. shares in basis points), exactly."""
    return allocate(pool, [w for _, w in subpools])


def distribute(
    pool: int, subpools: Sequence[tuple[Criterion, int]], people: Sequence[Person], *, redistribute: bool
) -> Result:
    """Distribute `pool` cents. `subpools`: (criterion, integer weight of the sub-pool).

    The result does not depend on the order of `people`: they are taken in id order (ties of the largest
    remainder go to the lowest id), and the shares come back in the input order.
    """
    ids = [p.id for p in people]
    if ids == sorted(ids):  # already in id order (a population is): no reordering
        return _distribute(pool, people, subpools, redistribute)
    order = sorted(range(len(people)), key=ids.__getitem__)
    by_id = _distribute(pool, [people[i] for i in order], subpools, redistribute)
    back = {s.id: s for s in by_id.shares}
    return Result([back[p.id] for p in people], by_id.undistributed, by_id.rounds, by_id.subpools)


def _largest_remainder(amount: int, ws: list[int], total: int) -> tuple[list[int], bytearray]:
    """`money.allocate(amount, ws)` as floors and extra cents: share i is floors[i] + extra[i], extra 0 or 1.

    `total` is sum(ws), not 0; `amount` > 0; no weight is negative. Every share is floor(amount * w / total)
    and the cents left go one each to the largest remainders, ties to the lowest index (a stable sort, reversed:
    equal remainders keep their order), exactly as `allocate` gives them."""
    floors = [amount * w // total for w in ws]
    extra = bytearray(len(ws))
    left = amount - sum(floors)
    if left:
        rems = [amount * w % total for w in ws]
        for i in sorted(range(len(ws)), key=rems.__getitem__, reverse=True)[:left]:
            extra[i] = 1
    return floors, extra


def _distribute(
    pool: int, people: Sequence[Person], subpools: Sequence[tuple[Criterion, int]], redistribute: bool
) -> Result:
    n = len(people)
    weights = [p.weights for p in people]
    caps = [p.cap for p in people]
    given = [0] * n
    rounds: list[list[list[list[Any]]]] = [[] for _ in range(n)]
    capped = [False] * n
    # someone already at their cap still takes part in the first round: their share is blocked, and only
    # redistributed if the agreement says so (I-35, I-36)
    open_ = [i for i, w in enumerate(weights) if any(w.get(c, 0) for c, _ in subpools)]
    remaining = pool
    undistributed = 0
    used_rounds = 0
    first_split: list[tuple[str, int]] = []
    names = {c: str(c) for c, _ in subpools}  # one string per criterion, not one per person and round
    while remaining > 0 and open_:
        used_rounds += 1
        amounts = split_pool(remaining, subpools)
        if not first_split:
            first_split = [(str(c), a) for (c, _), a in zip(subpools, amounts, strict=True)]
        # by position in open_: what each would get this round, and the trace of it
        tentative = [0] * len(open_)
        parts: list[list[list[Any]]] = [[] for _ in open_]
        blocked = 0
        for (criterion, _), amount in zip(subpools, amounts, strict=True):
            if amount == 0:
                continue
            name = names[criterion]
            ws = [weights[i].get(criterion, 0) for i in open_]
            total = sum(ws)
            if total == 0:  # nobody left to share this sub-pool with: it cannot be distributed (I-36)
                undistributed += amount
                continue
            if min(ws) < 0:
                raise ValueError("weights must not be negative")  # as money.allocate says it
            floors, extra = _largest_remainder(amount, ws, total)
            for j, w in enumerate(ws):
                if w:
                    e = extra[j]
                    tentative[j] += floors[j] + e
                    parts[j].append([name, amount, w, total, e])
        still_open = []
        for j, i in enumerate(open_):
            cap = caps[i]
            t = tentative[j]
            if parts[j]:
                rounds[i].append(parts[j])
            if cap is not None and t >= cap - given[i]:
                room = cap - given[i]
                given[i] += room
                blocked += t - room
                capped[i] = True
            else:
                given[i] += t
                still_open.append(i)
        remaining = blocked
        if not redistribute:
            break
        open_ = still_open
    undistributed += remaining
    shares = [Share(p.id, given[i], rounds[i], p.cap, capped[i]) for i, p in enumerate(people)]
    return Result(shares, undistributed, used_rounds, first_split)


def replay(rounds: Sequence[Sequence[Sequence[Any]]], cap: int | None) -> int:
    """A person's amount from their trace alone (what `distribute` gave them)."""
    given = 0
    for parts in rounds:
        t = sum(int(pool) * int(w) // int(total) + int(extra) for _, pool, w, total, extra in parts)
        given += t if cap is None else min(t, cap - given)
    return given
