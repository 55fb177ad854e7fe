"""docs/plugins.md documents every hook, and its runnable example runs."""

import re
import subprocess
import sys
from pathlib import Path

from paybonus.hooks import specs

DOCS = Path(__file__).parent.parent.parent / "docs"


def hook_names():
    return sorted(n for n in dir(specs) if n.startswith("paybonus_"))


def test_every_hook_is_documented_in_its_own_section():
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `?(paybonus_\w+)", text, re.M))
    assert hook_names(), "no hooks found"
    missing = [h for h in hook_names() if h not in headings]
    assert not missing, f"undocumented hooks: {missing}"
    extra = headings - set(hook_names())
    assert not extra, f"documented hooks that do not exist: {extra}"


def test_the_runnable_example_in_plugins_md_runs(tmp_path):
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python runnable\n(.*?)```", text, re.S)
    assert blocks, "docs/plugins.md has no runnable example"
    for i, code in enumerate(blocks):
        f = tmp_path / f"example_{i}.py"
        f.write_text(code, encoding="utf-8")
        r = subprocess.run(
            [sys.executable, str(f)], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 0, r.stderr
        assert "OK" in r.stdout


def test_data_format_doc_lists_every_column():
    from paybonus import sources

    text = (DOCS / "data-format.md").read_text(encoding="utf-8")
    for col in (
        *sources.EMPLOYEE_COLUMNS,
        *sources.EMPLOYEE_OPTIONAL,
        *sources.PAY_COLUMNS,
        *sources.PAY_OPTIONAL,
        *sources.ABSENCE_COLUMNS,
    ):
        assert f"`{col}`" in text, col
    from paybonus.payroll import AbsenceKind

    for k in AbsenceKind:
        assert f"`{k.value}`" in text, k


def test_every_formula_in_the_interessement_doc_parses_and_evaluates():
    from decimal import Decimal

    from paybonus.formulas import Formula
    from paybonus.plugins.interessement.agreement import COMPUTED_FIGURES, STANDARD_FIGURES

    text = (DOCS / "interessement.md").read_text(encoding="utf-8")
    section = text.split("### Every example of the seed articles", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) >= 20
    extra = {
        "defauts",
        "produits",
        "dechets",
        "taux_sans_defaut",
        "ro_budget",
        "taux_service",
        "taux_retours",
        "i1",
        "i2",
        "i3",
    }
    known = {*STANDARD_FIGURES, *COMPUTED_FIGURES, *extra}
    for row in rows:
        for src in re.findall(r"`([^`]+)`", row.split("|")[2]):
            if not any(ch in src for ch in "()*+-/<>") or src.startswith("figures ="):
                continue
            f = Formula.parse(src, known)
            value, _ = f.evaluate({n: Decimal(1000) for n in known}, lambda name, n: Decimal(900))
            assert value == value  # evaluates without error
