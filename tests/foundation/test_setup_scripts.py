"""The README's commands, the Makefile, scripts/setup and .ci/run: what each one runs."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
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
        check=False,
    )


def _recorded_make(tmp_path: Path, target: str, failing: str = "") -> tuple[int, list[str]]:
    """Run the real Makefile's `target` in a checkout whose scripts/setup and .venv tools only
    record how they were called (`failing`: the one that exits 1); the code and the calls."""
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    log = tmp_path / "calls.log"
    stand_ins = [tmp_path / "scripts/setup"] + [
        tmp_path / ".venv/bin" / name for name in ("python", "qbtui", "ruff", "mypy", "lint-imports")
    ]
    for program in stand_ins:
        program.parent.mkdir(parents=True, exist_ok=True)
        code = 1 if program.name == failing else 0
        program.write_text(f'#!/bin/sh\necho "{program.name} $*" >> {log}\nexit {code}\n')
        program.chmod(0o755)
    result = subprocess.run(
        ["make", "-s", "-C", str(tmp_path), target], env={"PATH": "/usr/bin:/bin"}, capture_output=True, check=False, timeout=30
    )
    return result.returncode, log.read_text().splitlines() if log.exists() else []


def test_every_make_command_of_the_readme_is_a_target(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    targets = sorted({line.split()[1] for line in readme.splitlines() if line.startswith("make ")})
    assert targets == ["demo", "test"]
    for target in targets:
        folder = tmp_path / target
        folder.mkdir()
        code, calls = _recorded_make(folder, target)
        assert code == 0 and len(calls) > 1, f"`make {target}` runs nothing but setup"


def test_make_test_sets_up_the_dev_tools_then_runs_the_whole_suite(tmp_path: Path) -> None:
    assert _recorded_make(tmp_path, "test") == (0, ["setup --dev", "python -m pytest -q -n 2 --dist worksteal"])


def test_make_test_takes_the_number_of_test_processes(tmp_path: Path) -> None:
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts/setup").write_text("#!/bin/sh\n")
    (tmp_path / "scripts/setup").chmod(0o755)
    result = subprocess.run(
        ["make", "-n", "-s", "-C", str(tmp_path), "test", "TEST_WORKERS=0"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and ".venv/bin/python -m pytest -q -n 0 --dist worksteal" in result.stdout


def test_the_dev_extra_installs_the_plugin_of_make_tests_n(tmp_path: Path) -> None:
    """`make test` runs `pytest -n`: scripts/setup --dev must install pytest-xdist on a clean clone."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(requirement.startswith("pytest-xdist") for requirement in dev)


def test_make_test_runs_no_test_when_the_setup_fails(tmp_path: Path) -> None:
    code, calls = _recorded_make(tmp_path, "test", failing="setup")
    assert code != 0 and calls == ["setup --dev"]


def test_make_demo_sets_up_then_opens_the_demo(tmp_path: Path) -> None:
    assert _recorded_make(tmp_path, "demo") == (0, ["setup ", "qbtui demo .demo"])


def test_make_check_sets_up_then_runs_lint_format_types_contracts_and_cycles(tmp_path: Path) -> None:
    """On a clean clone (.ci/run runs `make check` first) the tools must be installed first."""
    code, calls = _recorded_make(tmp_path, "check")
    assert code == 0
    assert calls == [
        "setup --dev",
        "ruff check qbtui tests benchmarks scripts",
        "ruff format --check qbtui tests benchmarks scripts",
        "mypy ",
        "lint-imports ",
        "python scripts/import_cycles.py qbtui",
    ]


def test_make_check_stops_at_the_first_failing_tool(tmp_path: Path) -> None:
    code, calls = _recorded_make(tmp_path, "check", failing="mypy")
    assert code != 0 and calls[-1] == "mypy " and not any(call.startswith("lint-imports") for call in calls)


def _ci_with_fake_make(tmp_path: Path, failing: str = "") -> tuple[int, list[str]]:
    """Run .ci/run with a `make` that only records its arguments (and fails on `failing`)."""
    (tmp_path / ".ci").mkdir()
    shutil.copy2(ROOT / ".ci/run", tmp_path / ".ci/run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "make.log"
    fake = bin_dir / "make"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {log}\n[ "$*" != "{failing}" ]\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["bash", str(tmp_path / ".ci/run")],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        check=False,
        timeout=30,
    )
    return result.returncode, log.read_text().splitlines()


def test_ci_runs_the_checks_then_the_tests(tmp_path: Path) -> None:
    assert _ci_with_fake_make(tmp_path) == (0, ["check", "test"])


def test_ci_stops_when_the_checks_fail(tmp_path: Path) -> None:
    code, calls = _ci_with_fake_make(tmp_path, failing="check")
    assert code != 0 and calls == ["check"]


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
