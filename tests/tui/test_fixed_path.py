"""The snapshot tests' fixed workspace path: one holder at a time, a fresh copy, gone after."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from tests.tui.fixed_path import workspace_at


def test_the_fixed_folder_is_a_fresh_copy_locked_while_held_and_removed_after(tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    (template / "registry.toml").write_text("[settings]\n")
    path = tmp_path / "fixed"
    path.mkdir()
    (path / "left-over.txt").write_text("from a killed run\n")
    lock = tmp_path / "fixed.lock"
    with workspace_at(path, template):
        assert sorted(child.name for child in path.iterdir()) == ["registry.toml"]
        with lock.open("a") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert not path.exists()
    with lock.open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
