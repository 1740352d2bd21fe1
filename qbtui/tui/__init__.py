"""The Textual dashboard: `make_app` builds it as it starts for real, `run_app` runs it.

The CLI, the Pilot tests (tests/tui/conftest.py) and the benchmarks all build the app
with `make_app`, so what they exercise is the production start-up: the workspace read
from the registry, then the image protocol chosen from its settings, then the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qbtui.tui.app import QbtuiApp


def make_app(registry_path: Path | str, *, clock: Callable[[], float] = time.time, watch: bool = True) -> QbtuiApp:
    """The dashboard on `registry_path`, ready to run.

    The image protocol is decided before the app runs (textual-image queries the
    terminal at import, which Textual's input thread would otherwise swallow).
    `clock` and `watch` (the folder watcher) are what tests and benchmarks may fix.
    """
    from qbtui.tui.app import QbtuiApp
    from qbtui.tui.widgets.preview import prepare_image_protocol
    from qbtui.workspace import Workspace

    workspace = Workspace(registry_path)
    prepare_image_protocol(workspace.settings.image_protocol)
    return QbtuiApp(workspace, clock=clock, watch=watch)


def run_app(registry_path: Path | str) -> int:
    """Open the dashboard on `registry_path`; returns the exit code."""
    app = make_app(registry_path)
    app.run()
    return app.return_code or 0
