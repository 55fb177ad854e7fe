"""Print the coverage of core/ and plugins/ at the end of `make test`, and fail under the floor (docs/testing.md).

Reads the combined data of the run (`coverage combine` first); the figures are lines and branches, each on its
own, for the engine (core/) and the plugins (plugins/), and for both together.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# percent of branches of core/, of plugins/, and of both together, under which `make test` fails (issue 19,
# docs/testing.md)
BRANCH_FLOOR = 90.0
PARTS = ("core", "plugins")


def main() -> int:
    out = Path("build/coverage.json")
    out.parent.mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "coverage", "json", "-q", "-o", str(out), "--ignore-errors"], check=True
    )
    files = json.loads(out.read_text(encoding="utf-8"))["files"]
    totals = {p: [0, 0, 0, 0] for p in (*PARTS, "all")}
    for path, data in files.items():
        part = Path(path).parts[0]
        if part not in PARTS:
            continue
        s = data["summary"]
        row = (s["covered_lines"], s["num_statements"], s["covered_branches"], s["num_branches"])
        for key in (part, "all"):
            totals[key] = [a + b for a, b in zip(totals[key], row, strict=True)]
    for key, (cl, nl, cb, nb) in totals.items():
        name = "core+plugins" if key == "all" else key
        print(
            f"coverage {name:>12}: lines {100 * cl / nl:5.1f} % ({cl}/{nl}), branches {100 * cb / nb:5.1f} % ({cb}/{nb})"
        )
    under = [
        f"{'core+plugins' if key == 'all' else key} {100 * cb / nb:.1f} %"
        for key, (_, _, cb, nb) in totals.items()
        if 100 * cb / nb < BRANCH_FLOOR
    ]
    if under:
        print(f"coverage: branches under the floor of {BRANCH_FLOOR} %: {', '.join(under)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
