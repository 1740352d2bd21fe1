"""On a file system mounted read-only the fix says so, instead of a `chmod u+w` that cannot help."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from qbtui.mounts import make_writable_fix, read_only_mount


@pytest.fixture
def mounted_read_only(monkeypatch: pytest.MonkeyPatch):
    """Every path reads as lying on a read-only mount (the flag statvfs gives for `mount -o ro`)."""
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_flag=os.ST_RDONLY))


def test_a_read_only_mount_is_told_from_a_writable_one(tmp_path: Path, mounted_read_only) -> None:
    assert read_only_mount(tmp_path)
    fix = make_writable_fix(tmp_path)
    assert fix == f"{tmp_path} is on a file system mounted read-only, which chmod cannot change: remount it read-write"


def test_a_writable_mount_gets_chmod_and_an_unknown_one_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not read_only_mount(tmp_path)
    assert make_writable_fix(tmp_path) == f"make it writable (`chmod u+w {tmp_path}`)"
    assert not read_only_mount(tmp_path / "missing")
