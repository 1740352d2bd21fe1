"""The stop a trainer process honours: SIGTERM or SIGINT, or its supervisor gone; checked after each step,
and between the images and denoising steps of sampling and likeness scoring (`StopRequested`)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable


class StopRequested(Exception):
    """A stop was asked while drawing samples: the rest of them is abandoned, the trainer saves its state and stops."""


def stop_requested(should_stop: Callable[[], bool] | None) -> None:
    """Raise StopRequested when `should_stop` says so (None: never)."""
    if should_stop is not None and should_stop():
        raise StopRequested


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
