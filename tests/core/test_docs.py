"""docs/plugins.md documents every hook with its signature, its runnable example runs, and so does the README's
library example."""

import inspect
import re
import subprocess
import sys
from pathlib import Path

from paybonus.hooks import specs

ROOT = Path(__file__).parent.parent.parent
DOCS = ROOT / "docs"


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


class _AsWritten(str):
    """An annotation shown as written in the source (specs.py postpones annotations: they are strings)."""

    def __repr__(self) -> str:
        return str(self)


def code_signature(name: str, sig: inspect.Signature) -> str:
    """`name(param: Annotation, ...) -> Return`, with the annotations as written in hooks/specs.py (the
    `# type: ignore` comments are not part of a signature)."""

    def written(annotation):
        return annotation if annotation is inspect.Parameter.empty else _AsWritten(annotation)

    params = [p.replace(annotation=written(p.annotation)) for p in sig.parameters.values()]
    shown = sig.replace(parameters=params, return_annotation=written(sig.return_annotation))
    return f"{name}{shown}"


def documented_signatures(text: str) -> dict[str, str]:
    """For each `### `paybonus_...`` section: the backticked text its first line starts with ("" if none)."""
    found = {}
    for name, body in re.findall(r"^### `(paybonus_\w+)`[^\n]*\n(.*?)(?=^#|\Z)", text, re.M | re.S):
        first = next((line for line in body.splitlines() if line.strip()), "")
        m = re.match(r"`([^`]+)`", first)
        found[name] = m.group(1) if m else ""
    return found


def signature_mismatches(documented: dict[str, str], code: dict[str, inspect.Signature]) -> list[str]:
    return [
        f"{name}: documented {documented.get(name)!r}, code {code_signature(name, sig)!r}"
        for name, sig in sorted(code.items())
        if documented.get(name) != code_signature(name, sig)
    ]


def hook_signatures() -> dict[str, inspect.Signature]:
    return {n: inspect.signature(getattr(specs, n)) for n in hook_names()}


def test_every_hook_section_starts_with_the_hooks_signature():
    documented = documented_signatures((DOCS / "plugins.md").read_text(encoding="utf-8"))
    assert set(documented) == set(hook_names())
    assert not signature_mismatches(documented, hook_signatures())


def test_the_signature_check_finds_a_changed_signature():
    documented = documented_signatures((DOCS / "plugins.md").read_text(encoding="utf-8"))
    real = hook_signatures()
    assert code_signature("paybonus_payroll_source", real["paybonus_payroll_source"]) == (
        "paybonus_payroll_source(company: CompanyInfo, ledger: LedgerView) -> PayrollSource | None"
    )
    sig = real["paybonus_payroll_source"]
    company, ledger = sig.parameters.values()
    changed = {
        "renamed parameter": sig.replace(parameters=[company, ledger.replace(name="view")]),
        "changed annotation": sig.replace(parameters=[company, ledger.replace(annotation="Ledger")]),
        "added parameter": sig.replace(
            parameters=[
                company,
                ledger,
                inspect.Parameter("x", inspect.Parameter.KEYWORD_ONLY, annotation="int"),
            ]
        ),
        "changed return": sig.replace(return_annotation="PayrollSource"),
    }
    for what, wrong in changed.items():
        problems = signature_mismatches(documented, {**real, "paybonus_payroll_source": wrong})
        assert len(problems) == 1 and problems[0].startswith("paybonus_payroll_source:"), what
    # and a documented line that drifted from the code
    drifted = {
        **documented,
        "paybonus_register_commands": "paybonus_register_commands() -> list[click.Group]",
    }
    assert signature_mismatches(drifted, real) == [
        "paybonus_register_commands: documented 'paybonus_register_commands() -> list[click.Group]', "
        "code 'paybonus_register_commands() -> list[click.Command]'"
    ]


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


def test_the_readme_library_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## As a library\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the README's 'As a library' section should hold one python block"
    f = tmp_path / "readme_library.py"
    f.write_text(blocks[0], encoding="utf-8")
    r = subprocess.run([sys.executable, str(f)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "'failed': 0" in r.stdout, r.stdout[-2000:]
    assert list(tmp_path.iterdir()) == [f], "the example leaves nothing behind"


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


# Each formula of docs/interessement.md's "Every example of the seed articles", with figures and the result its
# description states (worked by hand from the description; I-1 to I-3, R-8). prior: {(figure, periods back): value}.
DOC_FORMULAS = {
    "0.20 * rcai": [({"rcai": 100_000}, {}, "20000")],
    "0.20 * above(rcai, 50000)": [({"rcai": 80_000}, {}, "6000"), ({"rcai": 40_000}, {}, "0")],
    "brackets(rcai, [[0, 0], [50000, 0.10], [150000, 0.15]])": [({"rcai": 200_000}, {}, "17500")],
    "min(0.20 * rcai, 100000, 0.05 * payroll)": [
        ({"rcai": 1_000_000, "payroll": 1_500_000}, {}, "75000"),
        ({"rcai": 1_000_000, "payroll": 3_000_000}, {}, "100000"),
    ],
    "step(rcai, [[0, 0], [50000, 0.03], [100000, 0.07], [150000, 0.10]]) * rcai": [
        ({"rcai": 120_000}, {}, "8400"),
        ({"rcai": 49_999}, {}, "0"),
    ],
    "step(valeur_ajoutee / effectif, [[0, 0], [60000, 0.05], [80000, 0.08]]) * rcai": [
        ({"valeur_ajoutee": 7_000_000, "effectif": 100, "rcai": 200_000}, {}, "10000")
    ],
    "0 if frais_personnel / valeur_ajoutee > 0.30 else frais_personnel / valeur_ajoutee * rcai": [
        ({"frais_personnel": 25, "valeur_ajoutee": 100, "rcai": 100_000}, {}, "25000"),
        ({"frais_personnel": 31, "valeur_ajoutee": 100, "rcai": 100_000}, {}, "0"),
    ],
    "step(resultat_net / chiffre_affaires, [[0, 0], [0.02, 0.05], [0.05, 0.10]]) * resultat_net": [
        ({"resultat_net": 300_000, "chiffre_affaires": 5_000_000}, {}, "30000")
    ],
    "max(0, 0.05 * rcai - rsp)": [
        ({"rcai": 366_937, "rsp": 9_173}, {}, "9173.85"),
        ({"rcai": 100_000, "rsp": 9_000}, {}, "0"),
    ],
    "0 if defauts / produits > 0.02 else 0.03 * resultat_exploitation": [
        ({"defauts": 1, "produits": 100, "resultat_exploitation": 500_000}, {}, "15000"),
        ({"defauts": 3, "produits": 100, "resultat_exploitation": 500_000}, {}, "0"),
    ],
    "0 if dechets > prior(dechets) else step(prior(dechets) - dechets, [[0, 10000], [500, 20000]])": [
        ({"dechets": 1_000}, {("dechets", 1): 1_600}, "20000"),
        ({"dechets": 1_000}, {("dechets", 1): 1_200}, "10000"),
        ({"dechets": 1_000}, {("dechets", 1): 900}, "0"),
    ],
    "step(taux_sans_defaut, [[0, 0], [0.85, 40000], [0.91, 70000]])": [
        ({"taux_sans_defaut": "0.84"}, {}, "0"),
        ({"taux_sans_defaut": "0.88"}, {}, "40000"),
        ({"taux_sans_defaut": "0.95"}, {}, "70000"),
    ],
    "0.02 * payroll if resultat_exploitation > ro_budget else 0": [
        ({"resultat_exploitation": 5, "ro_budget": 4, "payroll": 1_000_000}, {}, "20000"),
        ({"resultat_exploitation": 4, "ro_budget": 4, "payroll": 1_000_000}, {}, "0"),
    ],
    "0.05 * above(chiffre_affaires, prior(chiffre_affaires) * 1.07)": [
        ({"chiffre_affaires": 1_200_000}, {("chiffre_affaires", 1): 1_000_000}, "6500")
    ],
    "achievement(taux_service, 0.80, 0.90) * 0.10 * rcai": [
        ({"taux_service": "0.85", "rcai": 100_000}, {}, "5000")
    ],
    "achievement(taux_retours, 0.05, 0.02) * 0.10 * rcai": [
        ({"taux_retours": "0.035", "rcai": 100_000}, {}, "5000")
    ],
    # 85 % between 80 % and 90 % on a weight of 20 % gives 10 %
    "weighted([[0.5, achievement(i1, 0.8, 0.9)], [0.3, achievement(i2, 0.8, 0.9)], "
    "[0.2, achievement(i3, 0.8, 0.9)]]) * 0.10 * payroll": [
        ({"i1": "0.8", "i2": "0.8", "i3": "0.85", "payroll": 1_000_000}, {}, "10000"),
        ({"i1": "0.9", "i2": "0.8", "i3": "0.85", "payroll": 1_000_000}, {}, "60000"),
    ],
    "0.03 * above(marge_brute, 1200000)": [({"marge_brute": 1_500_000}, {}, "9000")],
    "0.03 * above(marge_brute, prior(marge_brute) * 1.04)": [
        ({"marge_brute": 1_500_000}, {("marge_brute", 1): 1_400_000}, "1320")
    ],
    "0.03 * above(chiffre_affaires, prior(chiffre_affaires) * 1.02)": [
        ({"chiffre_affaires": 1_500_000}, {("chiffre_affaires", 1): 1_400_000}, "2160")
    ],
    "0.02 * above(chiffre_affaires, prior(chiffre_affaires, 4) * 1.03)": [
        ({"chiffre_affaires": 1_100_000}, {("chiffre_affaires", 4): 1_000_000}, "1400")
    ],
    "0.03 * payroll if rcai > 0.05 * chiffre_affaires else 0": [
        ({"rcai": 300_000, "chiffre_affaires": 5_000_000, "payroll": 1_000_000}, {}, "30000"),
        ({"rcai": 200_000, "chiffre_affaires": 5_000_000, "payroll": 1_000_000}, {}, "0"),
    ],
    "max(0, 3 * (prior(defauts) * 1.03 - defauts))": [({"defauts": 900}, {("defauts", 1): 1_000}, "390")],
}


def test_every_formula_in_the_interessement_doc_gives_the_result_its_description_states():
    from decimal import Decimal

    from paybonus.formulas import Formula

    text = (DOCS / "interessement.md").read_text(encoding="utf-8")
    section = text.split("### Every example of the seed articles", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    documented = [
        src
        for row in rows
        for src in re.findall(r"`([^`]+)`", row.split("|")[2])
        if any(ch in src for ch in "()*+-/<>") and not src.startswith("figures =")
    ]
    assert len(documented) >= 20
    assert set(documented) == set(DOC_FORMULAS), "each documented formula needs its worked result here"
    for src, cases in DOC_FORMULAS.items():
        for figures, prior, expected in cases:
            f = Formula.parse(src, set(figures) | {name for name, _ in prior})
            value, _ = f.evaluate(
                {k: Decimal(str(v)) for k, v in figures.items()},
                lambda name, k, prior=prior: Decimal(prior[(name, k)]),
            )
            assert value == Decimal(expected), (src, figures, prior)


def test_every_rule_id_paybonus_adds_is_listed_in_docs_rules_md():
    # D-n and V-n ids are not in LAW.md: docs/rules.md lists each with its default, how to change it, its source
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| ([DV]-\d+) \|", text, re.M))
    cited = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        cited |= set(re.findall(r'"([DV]-\d+)"', path.read_text(encoding="utf-8")))
    cited |= set(re.findall(r'"([DV]-\d+)"', (ROOT / "core" / "lint.py").read_text(encoding="utf-8")))
    assert cited, "no D-/V- rule id cited in the code"
    assert cited <= listed, f"cited but not in docs/rules.md: {sorted(cited - listed)}"
    for rule in listed:  # in the table, and explained below it
        assert len(re.findall(rf"\b{rule}\b", text)) >= 2, rule
