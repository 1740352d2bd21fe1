"""SIGKILL of a prep process ends its render workers too (issue 10 item 14)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dataset.test_prep_kill import CHILD

PHOTOS = 24
TIMEOUT_S = 60.0

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def test_workers_end_when_prep_is_sigkilled(settings, friend, folder, photos):
    for index in range(PHOTOS):
        photos.jpeg(folder / f"photo_{index:02d}.jpg", seed=index, size=(1600, 1200))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.datasets_dir)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert child.stdout.readline().strip() == "1", "prep did not start"
        workers = children(child.pid)
        assert len(workers) == 2, workers
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=TIMEOUT_S)
        wait_for(lambda: not any(alive(pid) for pid in workers), "the workers did not end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
