"""The Textual dashboard: `run_app` is the only entry point the CLI needs."""

from __future__ import annotations

from pathlib import Path


def run_app(registry_path: Path | str) -> int:
    """Open the dashboard on `registry_path`; returns the exit code.

    The image protocol is decided before the app runs (textual-image queries the
    terminal at import, which Textual's input thread would otherwise swallow).
    """
    from qbtui.tui.app import QbtuiApp
    from qbtui.tui.widgets.preview import prepare_image_protocol
    from qbtui.tui.workspace import Workspace

    workspace = Workspace(registry_path)
    prepare_image_protocol(workspace.settings.image_protocol)
    app = QbtuiApp(workspace=workspace)
    app.run()
    return app.return_code or 0
