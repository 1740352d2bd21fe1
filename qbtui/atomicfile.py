"""Crash-safe file writes: a temp file in the same folder, fsync, then os.replace.

A reader (or a crash) sees either the old content or the new, never half a file.
Temp files are named `.<name>.<random>.qbtui-tmp` so watchers and scanners can skip them.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from pathlib import Path

TEMP_SUFFIX = ".qbtui-tmp"
# The errors of a file system with no room left (a full disk, a used-up quota).
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class NoSpaceError(OSError):
    """A write that did not fit: the file, the bytes it needed and the folder's free bytes then (None: unknown)."""

    def __init__(self, path: Path, needed: int, free: int | None, cause: OSError):
        super().__init__(cause.errno, cause.strerror, str(path))
        self.path = path
        self.needed = needed
        self.free = free

    def __str__(self) -> str:
        free = f", {format_bytes(self.free)} free" if self.free is not None else ""
        return f"no space left in {self.path.parent} for {self.path.name} (it needs {format_bytes(self.needed)}{free})"


def format_bytes(count: int) -> str:
    """`512 bytes`, `9.4 MB`, `1.2 GB` (powers of 1000, as file managers show)."""
    if count < 1000:
        return f"{count} bytes"
    value, unit = count / 1000, "kB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


MAX_NAME_BYTES = 255


def temp_path_for(path: Path) -> Path:
    """A fresh hidden temp name beside `path`, recognisable by `is_temp_file`; a long name
    is shortened so the temp name still fits the file system's 255 bytes."""
    tail = f".{secrets.token_hex(4)}{TEMP_SUFFIX}"
    name = path.name
    while len(os.fsencode(f".{name}{tail}")) > MAX_NAME_BYTES:
        name = name[:-1]
    return path.with_name(f".{name}{tail}")


def is_temp_file(path: Path | str) -> bool:
    """True for the temp files this module (and prep) create."""
    return str(path).endswith(TEMP_SUFFIX)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """Replace `path` with `data` atomically, keeping the old file's permission bits."""
    path = Path(path)
    temp = temp_path_for(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    try:
        _write_durably(temp, data)
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        if error.errno in FULL_ERRNOS:
            raise NoSpaceError(path, len(data), _free_bytes(path.parent), error) from error
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _write_durably(temp: Path, data: bytes) -> None:
    """Create `temp` with `data`, on disk before it returns."""
    with open(temp, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def write_text_atomic(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    """Replace `path` with `text` atomically (UTF-8, newlines written as given)."""
    write_bytes_atomic(path, text.encode(encoding))
