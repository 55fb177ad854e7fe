"""Two publishers' files: ALPHA's and BETA's year written as company directories under `root`, their events in
`all.jsonl`, and two files of 60 % each that overlap by a fifth (`a.jsonl`, `b.jsonl`)."""

from __future__ import annotations

import json
from pathlib import Path

from paybonus.fixtures.generator import SAMPLE_SCHEMES, generate, write_company_dir


def overlapping_year(root: Path, employees: int) -> None:
    events = []
    for i, name in enumerate(("ALPHA", "BETA")):
        g = generate(
            name,
            employees=employees,
            seed=i + 3,
            schemes_toml=SAMPLE_SCHEMES,
            salary_schemes=True,
            results={"rcai": "300000", "rsp": "0"},
        )
        write_company_dir(g, root / name)
        events += g.events
    events.sort(key=lambda e: (e["occurred_at"], e["id"]))
    lines = [json.dumps(e) for e in events]
    cut = len(lines) * 6 // 10
    (root / "all.jsonl").write_text("\n".join(lines) + "\n")
    (root / "a.jsonl").write_text("\n".join(lines[:cut]) + "\n")
    (root / "b.jsonl").write_text("\n".join(lines[len(lines) - cut :]) + "\n")  # 20 % overlap
