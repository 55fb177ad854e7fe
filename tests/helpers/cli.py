"""Run the real `paybonus` command in a subprocess (exit codes, stdout and stderr as a user sees them)."""

from __future__ import annotations

import hashlib
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


def sample_copy(dest: Path, with_scheme: bool = True) -> Path:
    shutil.copytree(sample_dir(), dest)
    if with_scheme:
        with (dest / "company.toml").open("a", encoding="utf-8") as f:
            f.write(SCHEME)
    return dest


def file_hash(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()
