"""The shipped sample company and the synthetic generator."""

from datetime import date

from paybonus.fixtures import sample_dir
from paybonus.fixtures.generator import generate, sample_company, write_company_dir
from paybonus.sources import read_company_dir


def test_shipped_sample_is_exactly_what_the_generator_writes(tmp_path):
    write_company_dir(sample_company(), tmp_path / "s")
    shipped = sorted(
        p.relative_to(sample_dir()) for p in sample_dir().rglob("*") if p.is_file() and p.suffix != ".pyc"
    )
    fresh = sorted(p.relative_to(tmp_path / "s") for p in (tmp_path / "s").rglob("*") if p.is_file())
    assert shipped == fresh
    for rel in fresh:
        assert (sample_dir() / rel).read_bytes() == (tmp_path / "s" / rel).read_bytes(), rel


def test_sample_is_realistic():
    data = read_company_dir(sample_dir())
    employees = {c[0] for c in data.contracts}
    assert len(employees) >= 25
    months = {p[1] for p in data.pay_lines}
    assert len(months) == 12
    assert any(c[1] >= "2025-02-01" for c in data.contracts), "hires during the year"
    assert any(c[2] and "2025-01-01" <= c[2] <= "2025-12-31" for c in data.contracts), "departures"
    assert any(p[4] != "151.67" for p in data.pay_lines), "part-time"
    kinds = {a[1] for a in data.absences}
    assert {"maternity", "illness"} <= kinds
    assert any(p[5] != "0" and p[6] > 0 for p in data.pay_lines), "activité partielle"
    assert data.config.info.id == "DURAND"


def test_generator_is_deterministic_and_scales():
    a = generate("BIG", employees=3000, year=2025, seed=5)
    b = generate("BIG", employees=3000, year=2025, seed=5)
    assert a.data.digest == b.data.digest and a.events == b.events
    assert generate("BIG", employees=3000, year=2025, seed=6).data.digest != a.data.digest
    assert len({c[0] for c in a.data.contracts}) == 3000
    assert all(p[2] >= 0 for p in a.data.pay_lines)
    assert all(date.fromisoformat(p[1]).day == 1 for p in a.data.pay_lines)


def test_shipped_project_example_is_exactly_what_its_module_writes(tmp_path):
    from paybonus.fixtures import project_sample_dir
    from paybonus.fixtures.project import write_example

    write_example(tmp_path / "p")
    shipped = sorted(
        p.relative_to(project_sample_dir()) for p in project_sample_dir().rglob("*") if p.is_file()
    )
    fresh = sorted(p.relative_to(tmp_path / "p") for p in (tmp_path / "p").rglob("*") if p.is_file())
    assert shipped == fresh and len(fresh) == 3 * 15 + 2
    for rel in fresh:
        assert (project_sample_dir() / rel).read_bytes() == (tmp_path / "p" / rel).read_bytes(), rel
