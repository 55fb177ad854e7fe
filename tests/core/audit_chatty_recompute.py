"""A prime NAO recompute importable by verify's worker processes that prints, as a scheme's leftover debugging
line would (tests/core/test_audit_parallel.py): in a worker, stdout is the pipe its results take."""

from paybonus.hooks.types import Explanation


def recompute(expl: Explanation) -> int:
    from paybonus.plugins.salary.prime_nao import recompute as real

    print("a stray line written by a guest")  # the point of this module
    return real(expl)
