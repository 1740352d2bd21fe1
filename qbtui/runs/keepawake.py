"""Keeping a Mac awake while it trains: `caffeinate -i -w <trainer pid>`.

A sleeping laptop stops a 45-minute run. macOS's caffeinate holds an idle-sleep assertion
until the process it watches exits, so it ends by itself with the trainer. Elsewhere, or
when caffeinate is missing, nothing is started and the run goes on as usual.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

CAFFEINATE = Path("/usr/bin/caffeinate")


def keep_awake_command(platform: str, pid: int, exists: Callable[[Path], bool] = Path.is_file) -> list[str] | None:
    """The argument list keeping the machine awake while `pid` lives, or None when there is no way here."""
    if platform != "darwin" or not exists(CAFFEINATE):
        return None
    return [str(CAFFEINATE), "-i", "-w", str(pid)]


def keep_awake(pid: int) -> subprocess.Popen[bytes] | None:
    """Start caffeinate watching `pid` (on macOS); None when not started. Never raises."""
    argv = keep_awake_command(sys.platform, pid)
    if argv is None:
        return None
    try:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True
        )
    except OSError:
        return None
