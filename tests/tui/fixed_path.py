"""A workspace copied to one fixed path (snapshots show paths), held by one test at a time.

Snapshot tests need the same absolute path on every run, so two tests (two xdist workers,
or two checkouts on one machine) would otherwise copy into and delete the same folder under
each other. An exclusive lock on `<path>.lock` (released when its holder ends, even killed)
makes the others wait their turn.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def workspace_at(path: Path, template: Path) -> Iterator[Path]:
    """A fresh copy of the folder `template` at `path` for the `with` block, removed after it."""
    with path.with_name(path.name + ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(template, path)
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_UN)
