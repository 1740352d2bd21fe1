"""The stop a trainer process honours: SIGTERM or SIGINT, or its supervisor gone; checked after each step."""

from __future__ import annotations

import contextlib
import os
import signal
import sys


class StopFlag:
    """True once a stop was asked (SIGTERM/SIGINT) or the process that started the trainer
    ended (its supervisor killed): the loop checks it after each step, then saves state."""

    def __init__(self) -> None:
        self.requested = False
        self.parent = os.getppid()

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if not self.requested:
            say(f"{signal.Signals(signum).name}: finishing this step, then saving state")
        self.requested = True

    def __call__(self) -> bool:
        if not self.requested and os.getppid() != self.parent:
            say("the supervisor ended: finishing this step, then saving state")
            self.requested = True
        return self.requested


def say(text: str, *, stdout: bool = False) -> None:
    """A line on stderr (or stdout); never fails: a closed or broken stream must not cost the run its state."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stdout if stdout else sys.stderr, flush=True)
