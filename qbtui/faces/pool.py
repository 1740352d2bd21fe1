"""Analyse photos in worker subprocesses, one per core, independent of the host's streams.

Not multiprocessing: inside the Textual app its start methods fail (the app's replaced
stdio has no usable file descriptors). Each worker is `python -m qbtui.faces.worker`
with a pipe for stdin and stdout and stderr to /dev/null (`boxes` after the pid: no
descriptor where a photo has one face); it reads one JSON request a line (a photo's path,
or [path, its box-only analysis] to describe) and answers one JSON line. A worker ends
when its stdin closes or its parent dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from qbtui.faces.model import STOPPED, PhotoFaces

BOXES_ONLY = "boxes"


def worker_command(*, describe: bool = True) -> list[str]:
    return [sys.executable, "-m", "qbtui.faces.worker", str(os.getpid()), *([] if describe else [BOXES_ONLY])]


def analyse_in_workers(
    paths: list[Path], workers: int, *, describe: bool = True, known: dict[Path, PhotoFaces] | None = None
) -> Iterator[tuple[Path, PhotoFaces]]:
    """(path, faces) for every path, in completion order, from `workers` subprocesses;
    a path in `known` (its box-only analysis) is described rather than analysed."""
    jobs: queue.Queue[Path] = queue.Queue()
    for path in paths:
        jobs.put(path)
    results: queue.Queue[tuple[Path, PhotoFaces] | None] = queue.Queue()
    processes: list[subprocess.Popen] = []
    threads = []
    for _ in range(min(workers, len(paths))):
        process = subprocess.Popen(
            worker_command(describe=describe),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            env=os.environ.copy(),
        )
        processes.append(process)
        thread = threading.Thread(target=_serve, args=(process, jobs, results, known or {}), daemon=True)
        thread.start()
        threads.append(thread)
    try:
        finished = 0
        answered = 0
        while answered < len(paths) and finished < len(threads):
            item = results.get()
            if item is None:
                finished += 1
                continue
            answered += 1
            yield item
        while answered < len(paths):
            path = jobs.get_nowait()
            answered += 1
            yield path, PhotoFaces((0, 0), (), STOPPED)
    finally:
        for process in processes:
            _close(process)


def request_line(path: Path, known: PhotoFaces | None) -> bytes:
    """A worker's request: the path, or the path and the box-only analysis to describe."""
    request = str(path) if known is None else [str(path), known.to_json()]
    return (json.dumps(request, separators=(",", ":")) + "\n").encode()


def _serve(process: subprocess.Popen, jobs: queue.Queue, results: queue.Queue, known: dict[Path, PhotoFaces]) -> None:
    """Feed one worker a path at a time until the jobs run out or the worker dies."""
    try:
        while True:
            try:
                path = jobs.get_nowait()
            except queue.Empty:
                return
            assert process.stdin is not None and process.stdout is not None  # both are pipes
            try:
                process.stdin.write(request_line(path, known.get(path)))
                process.stdin.flush()
                line = process.stdout.readline()
            except (OSError, ValueError):
                line = b""
            if not line:
                results.put((path, PhotoFaces((0, 0), (), STOPPED)))
                return
            results.put((path, PhotoFaces.from_json(json.loads(line))))
    finally:
        results.put(None)


def _close(process: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
