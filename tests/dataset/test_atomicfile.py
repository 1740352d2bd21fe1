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


def test_a_full_disk_names_the_file_its_size_and_the_folder_and_keeps_the_old_file(tmp_path, monkeypatch):
    import errno

    from qbtui import atomicfile

    target = tmp_path / "qb_ada_lora.safetensors"
    target.write_bytes(b"older")

    def full(temp, data):
        temp.write_bytes(data[:10])  # as far as it got
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomicfile, "_write_durably", full)
    with pytest.raises(atomicfile.NoSpaceError) as caught:
        write_bytes_atomic(target, b"x" * 9_400_000)
    error = caught.value
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert (error.path, error.needed) == (target, 9_400_000)
    assert str(error).startswith(f"no space left in {tmp_path} for qb_ada_lora.safetensors (it needs 9.4 MB, ")
    assert target.read_bytes() == b"older" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_byte_counts_read_as_file_managers_show_them():
    from qbtui.atomicfile import format_bytes

    assert [format_bytes(n) for n in (0, 999, 1000, 9_400_000, 1_234_000_000)] == [
        "0 bytes",
        "999 bytes",
        "1.0 kB",
        "9.4 MB",
        "1.2 GB",
    ]
