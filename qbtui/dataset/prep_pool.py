"""Prep's pool of render workers: plain subprocesses over pipes.

Independent of the host process: no multiprocessing start method, no inherited file
descriptors, nothing read from `sys.stdout`/`sys.stderr` (which Textual replaces), so it
works the same from a shell and from inside the running app. Workers get stdin and
stdout as pipes and stderr to a temporary file (its tail names a crash), and end when
their parent dies (see prep_worker).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from qbtui.dataset.prep_worker import FAILED, OK, encode_request, read_frame, write_frame

STOP_TIMEOUT_S = 5.0
Frame = tuple[int, int, int, int] | None
ERROR_TAIL_BYTES = 400


class WorkerDied(RuntimeError):
    """A render worker ended before answering (killed, out of memory, crashed)."""


class _Worker:
    def __init__(self) -> None:
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qbtui.dataset.prep_worker", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.to_worker: IO[bytes] = self.process.stdin
        self.from_worker: IO[bytes] = self.process.stdout
        self.task: int | None = None

    def send(self, index: int, job: tuple[Path, Frame]) -> None:
        self.task = index
        try:
            write_frame(self.to_worker, encode_request(*job))
            self.to_worker.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self.why()) from None

    def receive(self) -> bytes | str:
        status = self.from_worker.read(1)
        payload = read_frame(self.from_worker) if status in (OK, FAILED) else None
        if payload is None:
            raise WorkerDied(self.why())
        self.task = None
        return payload if status == OK else payload.decode("utf-8", "replace")

    def why(self) -> str:
        code = self.process.poll()
        self.errors.seek(0, os.SEEK_END)
        self.errors.seek(max(0, self.errors.tell() - ERROR_TAIL_BYTES))
        tail = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        said = f": {tail[-1]}" if tail else ""
        return f"exit code {code}{said}" if code is not None else f"it stopped answering{said}"

    def stop(self) -> None:
        for stream in (self.to_worker, self.from_worker):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.errors.close()


def render_in_workers(paths: list[Path], workers: int, frames: list[Frame] | None = None) -> Iterator[tuple[int, bytes | str]]:
    """(index into `paths`, JPEG bytes or the error text) for every path, as workers finish them.

    `frames[i]` is the face crop of `paths[i]` (None: letterbox).

    Raises WorkerDied if a worker ends before answering; every worker is stopped on the
    way out, whatever happened.
    """
    pool = [_Worker() for _ in range(max(1, min(workers, len(paths))))]
    pending = iter(enumerate(zip(paths, frames or [None] * len(paths), strict=True)))
    selector = selectors.DefaultSelector()
    try:
        for worker in pool:
            selector.register(worker.from_worker, selectors.EVENT_READ, worker)
            _give_next(worker, pending, selector)
        while selector.get_map():
            for key, _events in selector.select():
                worker = key.data
                index = worker.task
                result = worker.receive()
                _give_next(worker, pending, selector)
                yield index, result
    finally:
        selector.close()
        for worker in pool:
            worker.stop()


def _give_next(worker: _Worker, pending: Iterator[tuple[int, tuple[Path, Frame]]], selector: selectors.BaseSelector) -> None:
    """The next path to this worker, or, when none is left, stop watching it."""
    task = next(pending, None)
    if task is None:
        selector.unregister(worker.from_worker)
    else:
        worker.send(*task)
