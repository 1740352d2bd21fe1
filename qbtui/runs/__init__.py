"""Training runs that outlive the screen: run directories, supervisor, backends, queue.

The public names other layers use are re-exported here; modules are imported on first
use so `import qbtui.runs` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qbtui.lazy import lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers; tests/test_lazy_exports.py keeps both lists equal
    from qbtui.runs.info import LIVE_STATES as LIVE_STATES, RunInfo as RunInfo, list_runs as list_runs, read_run as read_run
    from qbtui.runs.launch import host_slots as host_slots, queue_waits as queue_waits
    from qbtui.runs.manager import (
        command_for as command_for,
        resume_run as resume_run,
        start_run as start_run,
        stop_run as stop_run,
    )
    from qbtui.runs.queue import cancel as cancel, enqueue as enqueue, list_queue as list_queue, move as move


_EXPORTS = {
    "RunInfo": "info",
    "read_run": "info",
    "list_runs": "info",
    "LIVE_STATES": "info",
    "list_queue": "queue",
    "enqueue": "queue",
    "cancel": "queue",
    "move": "queue",
    "start_run": "manager",
    "stop_run": "manager",
    "resume_run": "manager",
    "command_for": "manager",
    "queue_waits": "launch",
    "host_slots": "launch",
}

__getattr__ = lazy_exports(__name__, _EXPORTS)
