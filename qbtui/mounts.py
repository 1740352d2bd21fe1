"""Read-only mounts: where `chmod u+w` cannot help, the fix says so."""

from __future__ import annotations

import os
from pathlib import Path


def read_only_mount(path: Path) -> bool:
    """True when `path` lies on a file system mounted read-only (False when that cannot be told)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, ValueError, AttributeError):
        return False


def make_writable_fix(path: Path) -> str:
    """How to make `path` writable: `chmod u+w`, unless its whole file system is mounted read-only."""
    if read_only_mount(path):
        return f"{path} is on a file system mounted read-only, which chmod cannot change: remount it read-write"
    return f"make it writable (`chmod u+w {path}`)"
