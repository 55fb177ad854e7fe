"""Distribution invariants (LAW I-21, I-22, I-30, I-35, I-36) and golden cases."""

from hypothesis import given, settings
from hypothesis import strategies as st
from paybonus.distribution import Criterion, Person, distribute, replay

U, P, S = Criterion.UNIFORM, Criterion.PRESENCE, Criterion.SALARY

people_st = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.integers(0, 366),
        st.integers(0, 10**7),
        st.one_of(st.none(), st.integers(0, 5 * 10**6)),
    ),
    min_size=1,
    max_size=30,
)
subpools_st = st.lists(
    st.tuples(st.sampled_from([U, P, S]), st.integers(1, 10_000)),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)


def mk(rows):
    return [Person(f"E{i}", {U: u, P: p, S: s}, cap) for i, (u, p, s, cap) in enumerate(rows)]


@settings(max_examples=300)
@given(st.integers(0, 10**9), subpools_st, people_st, st.booleans())
def test_no_cap_exceeded_cents_conserved_and_every_share_replays(pool, subpools, rows, redistribute):
    people = mk(rows)
    r = distribute(pool, subpools, people, redistribute=redistribute)
    assert sum(s.amount for s in r.shares) + r.undistributed == pool
    assert sum(s.amount for s in r.shares) <= pool
    for s, p in zip(r.shares, people, strict=True):
        assert s.amount >= 0
        if p.cap is not None:
            assert s.amount <= p.cap
        assert replay(s.rounds, s.cap) == s.amount


@settings(max_examples=200)
@given(st.integers(0, 10**9), subpools_st, people_st)
def test_without_caps_the_pool_is_distributed_to_the_cent(pool, subpools, rows):
    people = [Person(p.id, p.weights, None) for p in mk(rows)]
    usable = all(sum(p.weights[c] for p in people) > 0 for c, _ in subpools)
    r = distribute(pool, subpools, people, redistribute=False)
    if usable:
        assert r.undistributed == 0 and sum(s.amount for s in r.shares) == pool


@given(st.integers(1, 10**8), st.lists(st.integers(1, 10**6), min_size=2, max_size=20), st.data())
def test_more_salary_never_gives_less_from_the_salary_subpool(pool, salaries, data):
    people = [Person(f"E{i}", {S: s}) for i, s in enumerate(salaries)]
    r = distribute(pool, [(S, 1)], people, redistribute=False)
    i = data.draw(st.integers(0, len(salaries) - 1))
    bigger = [Person(p.id, {S: p.weights[S] + (1000 if k == i else 0)}) for k, p in enumerate(people)]
    r2 = distribute(pool, [(S, 1)], bigger, redistribute=False)
    assert r2.shares[i].amount >= r.shares[i].amount
    for a, b in zip(r.shares, r.shares[1:], strict=False):
        pa, pb = next(p for p in people if p.id == a.id), next(p for p in people if p.id == b.id)
        if pa.weights[S] > pb.weights[S]:
            assert a.amount >= b.amount


@given(st.integers(0, 10**8), people_st, st.randoms())
def test_employee_order_does_not_change_anything(pool, rows, rnd):
    people = mk(rows)
    shuffled = people[:]
    rnd.shuffle(shuffled)
    ra = distribute(pool, [(P, 1), (S, 1)], people, redistribute=True)
    rb = distribute(pool, [(P, 1), (S, 1)], shuffled, redistribute=True)
    assert {s.id: s for s in ra.shares} == {s.id: s for s in rb.shares}
    assert ra.undistributed == rb.undistributed
    assert [s.id for s in rb.shares] == [p.id for p in shuffled]  # shares come back in the input order


def test_golden_three_subpools_30_30_40():
    # I-22: 30 % uniform, 30 % presence, 40 % salary; pool 10 000.00
    people = [Person("A", {U: 1, P: 365, S: 3_000_000}), Person("B", {U: 1, P: 180, S: 1_000_000})]
    r = distribute(1_000_000, [(U, 30), (P, 30), (S, 40)], people, redistribute=False)
    assert r.subpools == [("uniform", 300_000), ("presence", 300_000), ("salary", 400_000)]
    # presence: A 300 000*365/545 = 200 917.43, B 99 082.57 -> floors 200 917 + 99 082, the last cent to B (.57)
    # A = 150 000 + 200 917 + 300 000; B = 150 000 + 99 083 + 100 000
    assert [s.amount for s in r.shares] == [650_917, 349_083]


def test_golden_cap_and_reliquat():
    people = [
        Person("A", {U: 1}, cap=100_000),
        Person("B", {U: 1}, cap=None),
        Person("C", {U: 1}, cap=400_000),
    ]
    kept = distribute(900_000, [(U, 1)], people, redistribute=False)
    assert [s.amount for s in kept.shares] == [
        100_000,
        300_000,
        300_000,
    ] and kept.undistributed == 200_000  # I-36
    red = distribute(900_000, [(U, 1)], people, redistribute=True)
    assert [s.amount for s in red.shares] == [100_000, 400_000, 400_000] and red.undistributed == 0  # I-35
    assert [s.capped for s in red.shares] == [True, False, True]


def test_someone_already_at_their_cap_keeps_their_share_out_of_the_others_hands():
    # I-36: without a reliquat clause, the share of someone whose cap is already used (e.g. by classic
    # intéressement, I-34) is not distributed; with the clause it goes to the others (I-35)
    people = [Person("A", {Criterion.UNIFORM: 1}, cap=0), Person("B", {Criterion.UNIFORM: 1}, cap=None)]
    kept = distribute(1000, [(Criterion.UNIFORM, 1)], people, redistribute=False)
    assert [s.amount for s in kept.shares] == [0, 500] and kept.undistributed == 500
    assert kept.shares[0].capped
    shared = distribute(1000, [(Criterion.UNIFORM, 1)], people, redistribute=True)
    assert [s.amount for s in shared.shares] == [0, 1000] and shared.undistributed == 0
    for s in (*kept.shares, *shared.shares):
        assert replay(s.rounds, s.cap) == s.amount


def test_replay_stops_each_round_at_the_cap_room_left():  # I-30, I-35: the trace gives the amount back
    rounds = [[["uniform", 100, 1, 1, 0]], [["uniform", 100, 1, 1, 0]]]
    assert replay(rounds, None) == 200
    assert replay(rounds, 150) == 150  # 100, then only the 50 left under the cap
    assert replay([[["salary", 10, 1, 3, 1]]], None) == 4  # 10 x 1 // 3 + the extra cent


def test_a_missing_weight_counts_as_zero_in_each_sub_pool():  # I-22: each sub-pool by its own criterion
    people = [Person("A", {U: 1}), Person("B", {U: 1, S: 3}), Person("C", {}, cap=0)]
    r = distribute(1000, [(U, 1), (S, 1)], people, redistribute=True)
    assert [s.amount for s in r.shares] == [250, 750, 0]  # uniform 500: 250 + 250; salary 500: all to B
    assert [s.capped for s in r.shares] == [False, False, False]  # C takes no part: not "capped"
    assert r.subpools == [("uniform", 500), ("salary", 500)]


def test_the_result_is_the_same_whatever_the_order_of_people():
    people = [Person("B", {U: 1}, cap=100), Person("A", {U: 1})]
    r = distribute(1000, [(U, 1)], people, redistribute=True)
    ordered = distribute(1000, [(U, 1)], people[::-1], redistribute=True)
    assert [s.id for s in r.shares] == ["B", "A"]
    assert (r.rounds, r.subpools, r.undistributed) == (
        ordered.rounds,
        ordered.subpools,
        ordered.undistributed,
    )
    assert (r.rounds, r.subpools) == (2, [("uniform", 1000)])
    assert {s.id: s.amount for s in r.shares} == {"A": 900, "B": 100}


def test_an_empty_pool_has_no_round_and_no_split():
    r = distribute(0, [(U, 1)], [Person("A", {U: 1})], redistribute=True)
    assert (r.rounds, r.subpools, r.undistributed, r.shares[0].amount) == (0, [], 0, 0)


def test_each_persons_trace_names_the_criterion_of_each_sub_pool_round_by_round():
    # I-22, I-35: the trace is what the employee's annex reads back (one row per criterion, its label from the
    # criterion's name) and what `replay` recomputes the amount from: every part is pinned, names included.
    # Round 1: uniform 500 / 3 = 166.67 each, the 2 extra cents to the lowest ids (A, B); salary 500 as 3:1.
    # A (cap 300) blocks 542 - 300 = 242, redistributed 121 + 121 in round 2 among B and C.
    people = [Person("A", {U: 1, S: 3}, cap=300), Person("B", {U: 1, S: 1}), Person("C", {U: 1})]
    r = distribute(1000, [(U, 1), (S, 1)], people, redistribute=True)
    assert [(s.id, s.amount, s.capped) for s in r.shares] == [
        ("A", 300, True),
        ("B", 474, False),
        ("C", 226, False),
    ]
    assert [s.rounds for s in r.shares] == [
        [[["uniform", 500, 1, 3, 1], ["salary", 500, 3, 4, 0]]],
        [
            [["uniform", 500, 1, 3, 1], ["salary", 500, 1, 4, 0]],
            [["uniform", 121, 1, 2, 1], ["salary", 121, 1, 1, 0]],
        ],
        [[["uniform", 500, 1, 3, 0]], [["uniform", 121, 1, 2, 0]]],
    ]
    assert all(type(part[0]) is str for s in r.shares for parts in s.rounds for part in parts)  # JSON-stored


# -- the distribution as it was written before the columnar rewrite (issue 17): the rewrite must give the same
# shares, traces, rounds and undistributed cents to the cent, whatever the order, caps and weights


def _reference_distribute(pool, subpools, people, redistribute):
    from paybonus.distribution import Result, Share, split_pool
    from paybonus.money import allocate

    order = sorted(range(len(people)), key=lambda i: people[i].id)
    if order != list(range(len(people))):
        by_id = _reference_distribute(pool, subpools, [people[i] for i in order], redistribute)
        back = {s.id: s for s in by_id.shares}
        return Result([back[p.id] for p in people], by_id.undistributed, by_id.rounds, by_id.subpools)
    n = len(people)
    given = [0] * n
    rounds = [[] for _ in range(n)]
    capped = [False] * n
    open_ = [i for i, p in enumerate(people) if any(p.weights.get(c, 0) for c, _ in subpools)]
    remaining, undistributed, used_rounds, first_split = pool, 0, 0, []
    while remaining > 0 and open_:
        used_rounds += 1
        amounts = split_pool(remaining, subpools)
        if not first_split:
            first_split = [(str(c), a) for (c, _), a in zip(subpools, amounts, strict=True)]
        tentative = {i: 0 for i in open_}
        parts = {i: [] for i in open_}
        blocked = 0
        for (criterion, _), amount in zip(subpools, amounts, strict=True):
            if amount == 0:
                continue
            ws = [people[i].weights.get(criterion, 0) for i in open_]
            total = sum(ws)
            if total == 0:
                undistributed += amount
                continue
            for i, w, got in zip(open_, ws, allocate(amount, ws), strict=True):
                if w:
                    tentative[i] += got
                    parts[i].append([str(criterion), amount, w, total, got - amount * w // total])
        still_open = []
        for i in open_:
            cap = people[i].cap
            room = None if cap is None else cap - given[i]
            t = tentative[i]
            if parts[i]:
                rounds[i].append(parts[i])
            if room is not None and t >= room:
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


# equal weights and small pools make ties of the largest remainder common: the lowest id must win them
tied_people_st = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from([0, 1, 7, 365]),
        st.sampled_from([0, 1, 3, 2_000_000, 10**12]),
        st.one_of(st.none(), st.integers(0, 50), st.integers(0, 5 * 10**6)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=400)
@given(
    st.one_of(st.integers(0, 200), st.integers(0, 10**13)),
    subpools_st,
    st.one_of(people_st, tied_people_st),
    st.booleans(),
    st.randoms(),
)
def test_the_distribution_gives_what_it_gave_before_to_the_cent(pool, subpools, rows, redistribute, rnd):
    people = mk(rows)
    rnd.shuffle(people)  # ids out of order too: the result must not depend on it
    got = distribute(pool, subpools, people, redistribute=redistribute)
    want = _reference_distribute(pool, subpools, people, redistribute)
    assert got == want
    assert sum(s.amount for s in got.shares) + got.undistributed == pool  # cents conserved
    for s, p in zip(got.shares, people, strict=True):
        assert p.cap is None or s.amount <= p.cap  # no cap exceeded
        assert replay(s.rounds, s.cap) == s.amount


@settings(max_examples=300)
@given(st.integers(1, 10**13), st.lists(st.integers(0, 10**9), min_size=1, max_size=60).filter(any))
def test_largest_remainder_is_money_allocate(amount, weights):
    from paybonus.distribution import _largest_remainder
    from paybonus.money import allocate

    floors, extra = _largest_remainder(amount, weights, sum(weights))
    assert [f + e for f, e in zip(floors, extra, strict=True)] == allocate(amount, weights)


def test_a_negative_weight_is_refused_as_allocate_refuses_it():
    import pytest

    with pytest.raises(ValueError, match="weights must not be negative"):
        distribute(100, [(U, 1)], [Person("A", {U: 2}), Person("B", {U: -1})], redistribute=False)
