"""Runs waiting for the device: one file per run under `<logs_dir>/.queue/`.

An entry is named `<position>-<run_id>` (the position zero-padded, so names sort in
queue order) and holds the run directory's path. The run directory itself (with its
`run.toml`) is written when the run is queued, so a queued run shows in `list_runs`.
Every change happens under an exclusive lock on `.queue/.lock`; the queue survives
the app quitting because it is only files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError
from qbtui.registry import Settings
from qbtui.rundir import QUEUE_FOLDER, RunDir, friend_of_run_id, run_dir_for
from qbtui.safefile import NotARegularFileError, open_lock

UNREACHABLE_FOLDER = "unreachable"
# How long the queue skips a host that did not answer before it tries it again.
UNREACHABLE_SKIP_S = 120.0


def _open_queue_lock(path: Path) -> int:
    """The queue's lock file (see `open_lock`); a FIFO or folder in its place is a clear error."""
    try:
        return open_lock(path)
    except NotARegularFileError as error:
        raise QbtuiError(f"the queue's lock file {error.strerror}", path=path, fix="remove it: qbtui creates it") from None


class RunQueue:
    """The queue folder of one logs directory."""

    def __init__(self, logs_dir: Path):
        self.logs_dir = Path(logs_dir)
        self.folder = self.logs_dir / QUEUE_FOLDER

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the queue's lock for a read-modify-write (re-entrant within one thread)."""
        held = _held_locks()
        if held.get(self.folder):
            held[self.folder] += 1
            try:
                yield
            finally:
                held[self.folder] -= 1
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with os.fdopen(_open_queue_lock(self.folder / ".lock"), "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            held[self.folder] = 1
            try:
                yield
            finally:
                held[self.folder] = 0
                fcntl.flock(handle, fcntl.LOCK_UN)

    def run_ids(self) -> list[str]:
        """Queued run ids, next first."""
        return [run_id for _, run_id in self._entries()]

    def add(self, run: RunDir) -> None:
        """Put a run at the end of the queue."""
        with self.locked():
            entries = self._entries()
            position = entries[-1][0] + 1 if entries else 1
            write_text_atomic(self.folder / _entry_name(position, run.run_id), f"{run.path}\n")

    def remove(self, run_id: str) -> bool:
        """Take a run out of the queue; False when it was not queued."""
        with self.locked():
            return self._unlink(run_id)

    def move(self, run_id: str, offset: int) -> list[str]:
        """Move a queued run `offset` places (negative: sooner); the new order."""
        with self.locked():
            old_positions = {entry_id: position for position, entry_id in self._entries()}
            order = list(old_positions)
            if run_id not in order:
                raise _not_queued(run_id)
            index = order.index(run_id)
            order.insert(max(0, min(len(order) - 1, index + offset)), order.pop(index))
            self._renumber(order, first=1)
            return order

    def put_back(self, run: RunDir) -> None:
        """Put a run back at the head of the queue (its start on a host did not happen)."""
        with self.locked():
            entries = self._entries()
            position = entries[0][0] - 1 if entries else 1
            if position < 0:
                self._renumber([run_id for _, run_id in entries], first=2)
                position = 1
            write_text_atomic(self.folder / _entry_name(position, run.run_id), f"{run.path}\n")

    def mark_unreachable(self, host: str, detail: str) -> None:
        """Note that `host` did not answer, so the queue skips it for a while."""
        (self.folder / UNREACHABLE_FOLDER).mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.folder / UNREACHABLE_FOLDER / host, f"{detail}\n")

    def unreachable_hosts(self, now: float | None = None) -> set[str]:
        """The hosts that did not answer within the last UNREACHABLE_SKIP_S seconds."""
        now = time.time() if now is None else now
        folder = self.folder / UNREACHABLE_FOLDER
        try:
            marks = list(folder.iterdir())
        except FileNotFoundError:
            return set()
        return {mark.name for mark in marks if now - mark.stat().st_mtime < UNREACHABLE_SKIP_S}

    def _renumber(self, order: list[str], first: int) -> None:
        old_positions = {entry_id: position for position, entry_id in self._entries()}
        for position, entry_id in enumerate(order, first):
            if old_positions[entry_id] != position:
                os.rename(
                    self.folder / _entry_name(old_positions[entry_id], entry_id), self.folder / _entry_name(position, entry_id)
                )

    def _entries(self) -> list[tuple[int, str]]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        entries = []
        for name in names:
            position, _, run_id = name.partition("-")
            if position.isdigit() and friend_of_run_id(run_id) is not None:
                entries.append((int(position), run_id))
        return sorted(entries)

    def _unlink(self, run_id: str) -> bool:
        for position, entry_id in self._entries():
            if entry_id == run_id:
                (self.folder / _entry_name(position, entry_id)).unlink()
                return True
        return False


_thread_state = threading.local()


def _held_locks() -> dict[Path, int]:
    """Queue folders whose lock this thread holds, with the nesting depth."""
    if not hasattr(_thread_state, "held"):
        _thread_state.held = {}
    held: dict[Path, int] = _thread_state.held
    return held


def _entry_name(position: int, run_id: str) -> str:
    return f"{position:06d}-{run_id}"


def _not_queued(run_id: str) -> QbtuiError:
    return QbtuiError(f"run {run_id} is not queued", fix="`qbtui queue` lists the queued runs")


def list_queue(settings: Settings) -> list[str]:
    """Queued run ids, next first."""
    return RunQueue(settings.logs_dir).run_ids()


def enqueue(settings: Settings, run: RunDir) -> None:
    """Add a written run directory to the end of the queue."""
    RunQueue(settings.logs_dir).add(run)


def cancel(settings: Settings, run_id: str) -> None:
    """Drop a queued run and its never-started run directory (only the files qbtui wrote)."""
    if not RunQueue(settings.logs_dir).remove(run_id):
        raise _not_queued(run_id)
    run = run_dir_for(settings.logs_dir, run_id)
    if run.supervisor_pid.exists():
        return
    for file in (run.run_toml, run.events):
        file.unlink(missing_ok=True)
    for folder in (run.state_dir, run.path):
        with contextlib.suppress(OSError):
            folder.rmdir()


def move(settings: Settings, run_id: str, offset: int) -> list[str]:
    """Move a queued run `offset` places (negative: sooner); returns the new order."""
    return RunQueue(settings.logs_dir).move(run_id, offset)
