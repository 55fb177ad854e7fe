"""The built wheel installs in a fresh virtual environment, with its sample data inside."""

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_runs_the_demo(tmp_path):
    dist = tmp_path / "dist"
    r = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    # setuptools has nothing to warn about (licence, data folders): `make demo` starts quietly
    warnings = [
        line
        for line in (r.stdout + r.stderr).splitlines()
        if "warning" in line.lower() and "byte-compiling is disabled" not in line  # PYTHONDONTWRITEBYTECODE
    ]
    assert not warnings, warnings[:5]
    wheel = next(dist.glob("paybonus-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "paybonus/fixtures/sample/payroll/2025-12.csv" in names and "paybonus/data/params.toml" in names
    assert "paybonus/fixtures/project_sample/BETA/payroll/2025-12.csv" in names
    assert "paybonus/plugins/interessement/projet/cli.py" in names
    # the statement's font travels with its licence (SIL OFL 1.1)
    assert {"paybonus/fonts/NotoSans-Regular.ttf", "paybonus/fonts/NotoSans-Bold.ttf"} <= set(names)
    assert "paybonus/fonts/OFL.txt" in names and "paybonus/templates/fiche.html.j2" in names
    assert not any(n.startswith(("core/", "hooks/", "plugins/", "fixtures/", "tests/")) for n in names)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    exe = env_dir / "bin" / "paybonus"
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "paybonus, version" in r.stdout
    r = subprocess.run([str(exe), "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "audit: OK" in r.stdout and (tmp_path / "paybonus-demo.db").is_file()
    statement = [
        str(exe),
        "--db",
        "paybonus-demo.db",
        "statements",
        "--company",
        "DURAND",
        "--period",
        "2025",
    ]
    statement += ["--employee", "E0001", "--format", "pdf", "--out", "st", "--issued-on", "2026-04-15"]
    r = subprocess.run([*statement, "--channel", "email"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # the installed template and fonts are found
    assert (tmp_path / "st" / "DURAND-interessement-20250101-E0001.pdf").read_bytes().startswith(b"%PDF")
    where = subprocess.run(
        [str(py), "-c", "from paybonus.fixtures import project_sample_dir; print(project_sample_dir())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    r = subprocess.run(
        [str(exe), "project", "check", f"{where}/project.toml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert r.returncode == 0 and "period 2025-01-01..2025-12-31: ALPHA, MEGA-LYON, BETA-RD" in r.stdout, (
        r.stderr
    )
