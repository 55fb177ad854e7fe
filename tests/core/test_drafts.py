"""`Drafts`: drafts built as they are read, the same each time, in order, whatever way they are read."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from paybonus.calendar import Period
from paybonus.hooks import Drafts, EntitlementDraft, Explanation, Kind

YEAR = Period(date(2025, 1, 1), date(2025, 12, 31))


def _draft(employee: str, cents: int) -> EntitlementDraft:
    kind = Kind.CORRECTION if cents < 0 else Kind.PRINCIPAL
    return EntitlementDraft(employee, YEAR, cents, Explanation({"cents": cents}, steps=[f"{cents}"]), kind)


@given(
    st.lists(st.integers(-500, 500), max_size=12),
    st.lists(st.integers(-500, 500), max_size=5),
    st.integers(-20, 20),
)
def test_drafts_read_by_index_slice_or_iteration_are_the_drafts_built_eagerly(first, second, i):
    eager = [_draft(f"E{n}", c) for n, c in enumerate(first)] + [
        _draft(f"F{n}", c) for n, c in enumerate(second)
    ]
    built: list[str] = []

    def build(n: int, c: int) -> EntitlementDraft:
        built.append(f"E{n}")
        return _draft(f"E{n}", c)

    lazy = Drafts(build, list(enumerate(first)), sum(c < 0 for c in first)) + Drafts.of(
        [_draft(f"F{n}", c) for n, c in enumerate(second)]
    )
    assert not built  # nothing is built before it is read
    assert len(lazy) == len(eager)
    assert list(lazy) == eager and list(lazy) == eager  # the same drafts, each time
    assert lazy[1:-1] == eager[1:-1] and lazy[::2] == eager[::2]
    assert lazy.corrections == sum(d.kind is Kind.CORRECTION for d in eager)
    if -len(eager) <= i < len(eager):
        assert lazy[i] == eager[i]
    else:
        try:
            lazy[i]
        except IndexError:
            pass
        else:
            raise AssertionError(f"index {i} of {len(eager)} drafts")


def test_empty_drafts():
    assert list(Drafts()) == [] and len(Drafts()) == 0 and Drafts().corrections == 0
    assert len(Drafts() + Drafts()) == 0
