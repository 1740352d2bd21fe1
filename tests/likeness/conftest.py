"""Fixtures for the likeness tests: a commented registry copy."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "registry.toml"


@pytest.fixture
def commented_registry(tmp_path: Path) -> Path:
    """The repository's registry with a comment after every line of code (`# note N`)."""
    lines = []
    for number, line in enumerate(REPO_REGISTRY.read_text(encoding="utf-8").splitlines(), start=1):
        is_code = line.strip() and not line.lstrip().startswith("#")
        lines.append(f"{line}  # note {number}" if is_code else line)
    path = tmp_path / "registry.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
