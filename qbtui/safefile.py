"""Read only regular files, never blocking: what every reader of a file qbtui did not just create uses.

A FIFO opened for reading waits for a writer for ever; a socket, a device or a folder is no
card, cache entry or run file either. `open_regular` checks the kind before opening (`stat`,
links followed), opens with `O_NONBLOCK` (a FIFO swapped in meanwhile cannot hold it) and
checks again on the open descriptor. Anything but a regular file raises `NotARegularFileError`,
an `OSError`, so every reader's existing `except OSError` turns it into its warning or error.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotARegularFileError(OSError):
    """`path` exists but is a FIFO, socket, device or folder, where a regular file was expected."""

    def __init__(self, path: Path | str, kind: str):
        super().__init__(errno.EINVAL, f"is {kind}, not a regular file", str(path))
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def kind_of(mode: int) -> str:
    """`a FIFO (named pipe)`, `a folder`, ...: what a non-regular file is, in words."""
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def is_regular_file(path: Path | str) -> bool:
    """True when `path` (links followed) is a regular file; never opens it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def require_regular(path: Path | str) -> None:
    """Raise `NotARegularFileError` (or the `OSError` of `stat`) unless `path` is a regular file."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotARegularFileError(path, kind_of(mode))


def open_regular(path: Path | str) -> BinaryIO:
    """`path` opened for binary reading, if it is a regular file; never blocks on a FIFO."""
    require_regular(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFileError(path, kind_of(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_lock(path: Path | str, flags: int = 0) -> int:
    """A descriptor (read-write, created 0o644) of the lock file `path` for `flock`, if it is a regular
    file: a FIFO put where a lock belongs is an error, never a wait. `flags` adds e.g. `O_NOFOLLOW`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | flags, 0o644)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFileError(path, kind_of(mode))
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: Path | str) -> bytes:
    """The bytes of a regular file (see `open_regular`)."""
    with open_regular(path) as handle:
        return handle.read()


def read_text(path: Path | str, encoding: str = "utf-8") -> str:
    """The text of a regular file (see `open_regular`); UnicodeDecodeError when it is not `encoding`."""
    return read_bytes(path).decode(encoding)
