"""The README's two commands, scripts/setup and .ci/run agree and behave."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _workspace(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts/setup", tmp_path / "scripts/setup")
    shutil.copy2(ROOT / "scripts/system-deps", tmp_path / "scripts/system-deps")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _setup(workspace: Path, *args: str, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(workspace / "scripts/setup"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHON": python},
    )


def test_readme_ci_and_makefile_agree() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo   #" in readme and "make test   #" in readme
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[0] == "set -euo pipefail" and ci[-1] == "make test"
    makefile = (ROOT / "Makefile").read_text()
    assert "demo: setup\n\t$(VENV)/bin/qbtui demo $(DEMO_DIR)" in makefile
    assert "test: setup-dev\n\t$(VENV)/bin/python -m pytest -q" in makefile
    assert "setup-dev:\n\tscripts/setup --dev" in makefile


def test_setup_returns_at_once_when_the_stamp_matches(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    (workspace / ".venv").mkdir()
    digest = hashlib.sha256((workspace / "pyproject.toml").read_bytes()).hexdigest()
    (workspace / ".venv/.qbtui-setup-dev").write_text(digest + "\n")
    for args in ((), ("--dev",)):
        result = _setup(workspace, *args)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert sorted(path.name for path in (workspace / ".venv").iterdir()) == [".qbtui-setup-dev"]


def test_setup_refuses_an_old_python(tmp_path: Path) -> None:
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\ncase \"$1\" in -V) echo 'Python 3.9.2';; *) exit 1;; esac\n")
    fake.chmod(0o755)
    result = _setup(_workspace(tmp_path), python=str(fake))
    assert result.returncode == 1 and "needs Python 3.11" in result.stderr and "3.9.2" in result.stderr
    assert not (tmp_path / ".venv").exists()


def test_setup_rejects_unknown_options(tmp_path: Path) -> None:
    result = _setup(_workspace(tmp_path), "--gpu")
    assert result.returncode == 2 and "unknown option --gpu" in result.stderr
