"""Atomic writes: content replaced whole, mode kept, no temp file left behind."""

import os

import pytest

from qbtui.atomicfile import is_temp_file, write_bytes_atomic, write_text_atomic


def test_write_text_creates_and_replaces(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "first")
    write_text_atomic(target, "second ü")
    assert target.read_text(encoding="utf-8") == "second ü"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_write_keeps_permission_bits(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("x")
    os.chmod(target, 0o640)
    write_bytes_atomic(target, b"y")
    assert target.stat().st_mode & 0o777 == 0o640


def test_failed_write_leaves_old_content_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert not any(is_temp_file(p) for p in tmp_path.iterdir())


def test_a_255_byte_name_is_written_atomically(tmp_path):
    from qbtui.atomicfile import write_text_atomic

    path = tmp_path / ("é" * 125 + ".txt")
    assert len(path.name.encode()) == 254
    write_text_atomic(path, "ok\n")
    assert path.read_text() == "ok\n" and [p.name for p in tmp_path.iterdir()] == [path.name]
