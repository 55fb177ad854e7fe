"""Run the real `paybonus` command in a subprocess (exit codes, stdout and stderr as a user sees them), or the
same command in this process (`run_here`) for the tests that are not about the process boundary."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

from paybonus.fixtures import sample_dir

SCHEME = '\n[schemes.prime_fin_annee]\namount = "800.00"\n'


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "paybonus", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=300,
    )


def run_here(
    *args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`run` in this process: `paybonus.cli.main` in `cwd` with `env` added, its exit code, stdout and stderr.
    A `paybonus` process costs a Python start and the import of paybonus (a second or more under coverage): the
    tests of a command's checks and messages use this, and each command keeps end-to-end tests with `run`. An
    exception escaping `main` (a traceback a user would see) fails the test."""
    import structlog
    from paybonus.cli import main

    added = {"COLUMNS": "200", **(env or {})}
    saved_env = {k: os.environ.get(k) for k in added}
    saved_logs, saved_stdin = structlog.get_config(), sys.stdin
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update(added)
        sys.stdin = io.StringIO(input or "")
        with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = saved_stdin
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        structlog.configure(**saved_logs)
    return subprocess.CompletedProcess(["paybonus", *args], code, out.getvalue(), err.getvalue())


def sample_copy(dest: Path, with_scheme: bool = True) -> Path:
    shutil.copytree(sample_dir(), dest)
    if with_scheme:
        with (dest / "company.toml").open("a", encoding="utf-8") as f:
            f.write(SCHEME)
    return dest


def file_hash(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()
