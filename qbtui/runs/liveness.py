"""Is a recorded process still the same process? A pid plus its start time says so.

A pid alone is not enough: after a reboot or a long time another program may hold it.
The start time comes from `/proc/<pid>/stat` on Linux and `ps -o lstart=` elsewhere
(macOS); a zombie counts as gone.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from qbtui.atomicfile import write_text_atomic
from qbtui.safefile import read_text


@dataclass(frozen=True)
class ProcessRecord:
    """A process as a pid file stores it."""

    pid: int
    start_time: str

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        """The record of a live process now, or None when `pid` is not running."""
        start = process_start_time(pid)
        return cls(pid, start) if start is not None else None

    def is_alive(self) -> bool:
        """True while the very process recorded runs (same pid, same start time)."""
        return process_start_time(self.pid) == self.start_time


def process_start_time(pid: int) -> str | None:
    """An opaque start-time token for a running process; None when gone or a zombie."""
    if pid <= 0:
        return None
    if sys.platform.startswith("linux"):
        return _linux_start_time(pid)
    return _ps_start_time(pid)


def _linux_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    state, start_ticks = fields[0], fields[19]
    if state in ("Z", "X") and not _threads_still_exiting(pid):
        return None
    return start_ticks


def _threads_still_exiting(pid: int) -> bool:
    """True while a zombie leader's other threads still run: the process keeps its files (and locks) until the last ends."""
    try:
        tasks = [task for task in Path(f"/proc/{pid}/task").iterdir() if task.name != str(pid)]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    for task in tasks:
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        if state not in ("Z", "X"):
            return True
    return False


def _ps_start_time(pid: int) -> str | None:
    result = subprocess.run(
        ["ps", "-o", "stat=", "-o", "lstart=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    line = result.stdout.strip()
    if result.returncode != 0 or not line:
        return None
    state, _, started = line.partition(" ")
    return None if state.startswith("Z") else " ".join(started.split())


def write_pid_file(path: Path, record: ProcessRecord) -> None:
    """Store `pid start_time` atomically."""
    write_text_atomic(path, f"{record.pid} {record.start_time}\n")


def read_pid_file(path: Path) -> ProcessRecord | None:
    """The record in a pid file; None when the file is missing or unreadable."""
    try:
        pid_text, _, start = read_text(path).strip().partition(" ")
        return ProcessRecord(int(pid_text), start)
    except (OSError, ValueError):
        return None
