"""A prime NAO recompute importable by verify's worker processes, slow on an explanation marked `__slow__`
(tests/core/test_audit_parallel.py)."""

import time

from paybonus.hooks.types import Explanation


def recompute(expl: Explanation) -> int:
    from paybonus.plugins.salary.prime_nao import recompute as real

    if expl.inputs.get("__slow__"):
        time.sleep(2.5)
    return real(expl)
