"""The one way TUI tests wait: for background workers and for conditions.

A worker that was cancelled (an exclusive worker replaced by a newer one) or that
failed counts as finished: waiting never raises `WorkerCancelled` or `WorkerFailed`,
which is what `App.workers.wait_for_complete()` does on a busy machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_TIMEOUT = 60.0


def running_workers(app) -> list:
    """The app's workers that have not reached a final state (success, error, cancelled)."""
    return [worker for worker in app.workers if not worker.is_finished]


async def workers_idle(pilot, *, turns: int = 3, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Until no worker runs for `turns` turns of the event loop in a row.

    Workers hand results to the UI with `call_from_thread`, which may start further
    workers (a rescan after a fix), so one pass is not enough.
    """
    deadline = time.monotonic() + timeout
    idle_turns = 0
    while idle_turns < turns:
        if running_workers(pilot.app):
            idle_turns = 0
            if time.monotonic() > deadline:
                names = ", ".join(worker.name or repr(worker) for worker in running_workers(pilot.app))
                raise AssertionError(f"workers still running after {timeout:.0f} s: {names}")
            await pilot.pause(0.02)
        else:
            idle_turns += 1
            await pilot.pause()


async def wait_until(pilot, condition: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT) -> None:
    """Let the app run until `condition()` holds (poller and watcher work on their own clocks)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the timeout")
        await pilot.pause(0.05)
