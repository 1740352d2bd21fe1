"""The stop a trainer process honours: SIGTERM or SIGINT, checked after each step."""

from __future__ import annotations

import signal
import sys


class StopFlag:
    """Set by SIGTERM/SIGINT; the loop checks it after each step."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if not self.requested:
            print(f"{signal.Signals(signum).name}: finishing this step, then saving state", file=sys.stderr, flush=True)
        self.requested = True

    def __call__(self) -> bool:
        return self.requested
