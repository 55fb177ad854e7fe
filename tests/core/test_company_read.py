"""Reading a company directory holds a year's payroll once: each file is hashed as it is read (not kept for a digest
at the end), and the pay lines share their employee ids and hours texts. `paybonus load` of 200 000 employees
peaked at 1 311 MiB, 822 MiB since (docs/performance.md). The digest, which tells a reload from a change, is the
one the former whole-text hash gave."""

from __future__ import annotations

import hashlib
import shutil

from paybonus.fixtures import sample_dir
from paybonus.sources import read_company_dir, statement_files


def _former_digest(path):
    """The digest as it was computed: every file's text kept, joined by U+001E, hashed once."""
    data = read_company_dir(path)
    texts = [(path / "company.toml").read_text(encoding="utf-8"), (path / "employees.csv").read_text("utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted((path / "payroll").glob("*.csv"))]
    if (path / "absences.csv").is_file():
        texts.append((path / "absences.csv").read_text(encoding="utf-8"))
    statement = statement_files(path, data.config, path / "company.toml")
    texts += [f"{name}:{hashlib.sha256(content).hexdigest()}" for name, content in statement]
    return hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()


def test_the_digest_is_the_whole_texts_one(tmp_path):
    company = shutil.copytree(sample_dir(), tmp_path / "c")
    assert read_company_dir(company).digest == _former_digest(company)
    (company / "absences.csv").unlink()  # one file fewer: another digest, still the former one
    assert read_company_dir(company).digest == _former_digest(company)


def test_a_change_of_one_byte_in_any_file_changes_the_digest(tmp_path):
    company = shutil.copytree(sample_dir(), tmp_path / "c")
    before = read_company_dir(company).digest
    month = sorted((company / "payroll").glob("*.csv"))[-1]
    month.write_text(month.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert read_company_dir(company).digest != before


def test_pay_lines_share_their_employee_ids_and_hours_texts():
    data = read_company_dir(sample_dir())
    ids = {c[0]: c[0] for c in data.contracts}
    assert len(data.pay_lines) > 300
    assert all(line[0] is ids[line[0]] for line in data.pay_lines)
    for column in (4, 5):  # contract_hours, ap_hours
        texts = [line[column] for line in data.pay_lines]
        assert len({id(t) for t in texts}) == len(set(texts)) < len(texts)
