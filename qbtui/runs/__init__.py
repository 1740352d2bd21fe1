"""Training runs that outlive the screen: run directories, events, supervisor, backends, queue.

The public names other layers use are re-exported here; modules are imported on first
use so `import qbtui.runs` stays cheap.
"""

from __future__ import annotations

from qbtui.lazy import lazy_exports

_EXPORTS = {
    "RunInfo": "info",
    "read_run": "info",
    "list_runs": "info",
    "LIVE_STATES": "info",
    "EventFollower": "events",
    "list_queue": "queue",
    "enqueue": "queue",
    "cancel": "queue",
    "move": "queue",
    "start_run": "manager",
    "stop_run": "manager",
    "resume_run": "manager",
    "command_for": "manager",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
