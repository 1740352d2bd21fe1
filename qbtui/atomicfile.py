"""Crash-safe file writes: a temp file in the same folder, fsync, then os.replace.

A reader (or a crash) sees either the old content or the new, never half a file.
Temp files are named `.<name>.<random>.qbtui-tmp` so watchers and scanners can skip them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TEMP_SUFFIX = ".qbtui-tmp"


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
        with open(temp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    """Replace `path` with `text` atomically (UTF-8, newlines written as given)."""
    write_bytes_atomic(path, text.encode(encoding))
