"""After `mutmut run` (in build/mutation): the score of each module, over the mutants named by the patterns given.

Killed: a test failed (or timed out, or the mutant crashed the run). Survived: every test passed. A mutant no
selected test reaches counts as survived. Prints one line per module, the total, and the survivors' names.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections import defaultdict
from pathlib import Path

SURVIVED = {0, 33, 34}  # mutmut: 0 tests passed, 33 no tests, 34 skipped


def main(patterns: list[str]) -> int:
    per_module: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    survivors: list[str] = []
    for meta in sorted(Path("mutants").rglob("*.py.meta")):
        for key, code in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"].items():
            if patterns and not any(fnmatch.fnmatch(key, p) for p in patterns):
                continue
            if code is None:
                continue  # not run (outside the patterns of this run)
            module = key.split(".x_")[0].split(".xǁ")[0]
            per_module[module][1] += 1
            if code in SURVIVED:
                survivors.append(key)
            else:
                per_module[module][0] += 1
    killed = total = 0
    for module, (k, n) in sorted(per_module.items()):
        print(f"mutation {module:<40} {100 * k / n:5.1f} % ({k}/{n} killed)")
        killed, total = killed + k, total + n
    if total:
        print(f"mutation {'total':<40} {100 * killed / total:5.1f} % ({killed}/{total} killed)")
    Path("survivors.txt").write_text("".join(f"{s}\n" for s in survivors), encoding="utf-8")
    print(f"{len(survivors)} survivors listed in build/mutation/survivors.txt (mutmut show NAME)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
