"""Training runs that outlive the screen: run directories, events, supervisor, backends, queue.

The public names other layers use are re-exported here; modules are imported on first
use so `import qbtui.runs` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunInfo": "qbtui.runs.info",
    "read_run": "qbtui.runs.info",
    "list_runs": "qbtui.runs.info",
    "LIVE_STATES": "qbtui.runs.info",
    "EventFollower": "qbtui.runs.events",
    "list_queue": "qbtui.runs.queue",
    "enqueue": "qbtui.runs.queue",
    "cancel": "qbtui.runs.queue",
    "move": "qbtui.runs.queue",
    "start_run": "qbtui.runs.manager",
    "stop_run": "qbtui.runs.manager",
    "resume_run": "qbtui.runs.manager",
    "command_for": "qbtui.runs.manager",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qbtui.runs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
