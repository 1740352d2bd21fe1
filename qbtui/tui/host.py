"""What screens, widgets and the palette may know of the app: a narrow, typed interface.

Screens read state through `host(self)` (the workspace, the clock, the keymap, the
notices) and send intents as messages (qbtui/tui/messages.py) or as app actions; none
imports `qbtui.tui.app`, so the app can import every screen without a cycle.
`scripts/import_cycles.py` (run by `make check`) holds that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, Protocol, cast

from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from qbtui.tui.notices import Notices
    from qbtui.workspace import Workspace


class Host(Protocol):
    """The app as screens see it (QbtuiApp is the one implementation)."""

    workspace: Workspace
    clock: Callable[[], float]
    keymap: dict[str, str]
    notices: Notices

    @property
    def theme_variables(self) -> dict[str, str]: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Literal["information", "warning", "error"] = "information",
        timeout: float | None = None,
        markup: bool = True,
        cause: str | None = None,
    ) -> None: ...

    def resolve_errors(self, cause: str) -> None: ...


def host(node: DOMNode) -> Host:
    """The app `node` is mounted in, as the narrow interface."""
    return cast(Host, node.app)


class AppKeys:
    """The keys of every screen: QbtuiApp's BINDINGS, and the help screen's "Everywhere"."""

    BINDINGS: list[BindingType] = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("question_mark", "help", "Help", show=False, id="app.help_alt"),
        Binding("ctrl+r", "runs", "Runs", show=False, id="app.runs"),
        Binding("ctrl+t", "pick_theme", "Theme", show=False, id="app.theme"),
        Binding("ctrl+l", "notices", "Notices", show=False, id="app.notices"),
        Binding("ctrl+q", "quit", "Quit", show=False, id="app.quit", priority=True),
    ]
