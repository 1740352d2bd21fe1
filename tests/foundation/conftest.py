"""Fixtures for the foundation tests: a demo workspace built once, and a CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qbtui import cli
from qbtui.demo import build_demo

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "registry.toml"


def commented_everywhere(text: str) -> str:
    """The same TOML with a distinct comment on every line (blank lines become comment lines)."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        is_code = line.strip() and not line.lstrip().startswith("#")
        lines.append(f"{line}  # note {number}" if is_code else f"# note {number} {line}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace without the model (drawn once per session); copy it before editing."""
    return build_demo(tmp_path_factory.mktemp("demo-template") / "demo", with_model=False).parent


@pytest.fixture
def demo_registry(built_demo: Path, tmp_path: Path) -> Path:
    """A private copy of the demo workspace; returns its registry path."""
    target = tmp_path / "demo"
    shutil.copytree(built_demo, target)
    return target / "registry.toml"


@pytest.fixture
def commented_text() -> str:
    """The repository's registry text with a comment on every line."""
    return commented_everywhere(REPO_REGISTRY.read_text(encoding="utf-8"))


@pytest.fixture
def commented_registry(tmp_path: Path) -> Path:
    """The repository's registry with a hand-written comment on every line."""
    path = tmp_path / "registry.toml"
    path.write_text(commented_everywhere(REPO_REGISTRY.read_text(encoding="utf-8")), encoding="utf-8")
    return path


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """Run `qbtui ARGS...` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = cli.main([str(arg) for arg in argv])
        except SystemExit as exit_:
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run
