"""Locks a live run holds for its whole life, kept outside its run folder in `<logs_dir>/.locks/`.

`friend-<id>.lock` stands for "this friend has a live run" and `device.lock` for "a run is
using this machine's device". The start path takes them (`flock`, without waiting) just
before it launches a supervisor and hands the open descriptors to it; the supervisor passes
them on to its backend. A lock is held while any of those processes lives, so deleting a
run folder, or a supervisor killed while its trainer saves, never frees the friend or the
device early. Each lock file holds the id of the run holding it, for messages.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from qbtui.errors import QbtuiError
from qbtui.safefile import NotARegularFileError, open_lock

LOCKS_FOLDER = ".locks"
DEVICE_LOCK = "device"


def friend_lock(friend_id: str) -> str:
    return f"friend-{friend_id}"


def _lock_path(logs_dir: Path, name: str) -> Path:
    return Path(logs_dir) / LOCKS_FOLDER / f"{name}.lock"


def _open(logs_dir: Path, name: str) -> int:
    path = _lock_path(logs_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return open_lock(path, os.O_NOFOLLOW)
    except NotARegularFileError as error:
        raise QbtuiError(f"the lock file {error.strerror}", path=path, fix="remove it: qbtui creates its lock files") from None


def holder(logs_dir: Path, name: str) -> str | None:
    """The run id holding lock `name` ("?" when it wrote none), or None when it is free."""
    if not _lock_path(logs_dir, name).exists():
        return None
    fd = _open(logs_dir, name)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "?"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunLocks:
    """The open, locked descriptors of one run's locks (closing them is this process letting go)."""

    def __init__(self, fds: list[int]):
        self.fds = fds

    @classmethod
    def take(cls, logs_dir: Path, run_id: str, names: list[str]) -> RunLocks:
        """Lock every name for `run_id`; QbtuiError naming the holder when one is taken."""
        fds: list[int] = []
        try:
            for name in names:
                fd = _open(logs_dir, name)
                fds.append(fd)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    other = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another run"
                    raise busy_error(name, other) from None
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{run_id}\n".encode(), 0)
        except BaseException:
            cls(fds).close()
            raise
        return cls(fds)

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []


def busy_error(name: str, run_id: str) -> QbtuiError:
    """The refusal when lock `name` is held by `run_id` (whose folder may be gone)."""
    what = "the device" if name == DEVICE_LOCK else f"{name.removeprefix('friend-')}'s training"
    return QbtuiError(
        f"{run_id} still holds {what} (its supervisor or trainer is running, even if its folder was deleted)",
        fix=f"stop it with `qbtui stop {run_id}` if its folder exists, or wait for its processes to end",
    )
