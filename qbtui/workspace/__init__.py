"""The dashboard's application state, free of any UI: `Workspace` and what it reports.

The TUI renders it and relays its callbacks as messages (qbtui/tui/relay.py); an
import-linter contract keeps Textual out of this package.
"""

from qbtui.workspace.model import Workspace, WorkspaceListener
from qbtui.workspace.trace import LineTail, RunTrace

__all__ = ["LineTail", "RunTrace", "Workspace", "WorkspaceListener"]
