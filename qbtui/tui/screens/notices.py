"""The notifications log: every toast of this session in full, newest first."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import RichLog

from qbtui.tui.host import host

SEVERITY_COLORS = {"error": "error", "warning": "warning", "information": "primary"}


class NoticesScreen(ModalScreen[None]):
    """Scrollable, wrapped, opened on the newest (at the top); escape, q or ctrl+l closes it."""

    BINDINGS = [Binding("escape,q,ctrl+l", "app.pop_screen", "Close", id="notices.close")]

    DEFAULT_CSS = """
    NoticesScreen { align: center middle; }
    NoticesScreen > #notices { width: 100%; max-width: 110; height: 1fr; }
    NoticesScreen RichLog { height: 1fr; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="notices", classes="dialog") as box:
            box.border_title = "Notifications (newest first)"
            yield RichLog(wrap=True, min_width=20, markup=False, highlight=False, auto_scroll=False, id="notices-log")

    def on_mount(self) -> None:
        log = self.query_one(RichLog)
        colors = self.app.theme_variables
        notices = list(reversed(host(self).notices.items))
        if not notices:
            log.write(Text("no notifications yet", style="dim"))
        for notice in notices:
            head = Text(datetime.fromtimestamp(notice.at).strftime("%H:%M:%S "), style="dim")
            head.append(notice.severity, style=colors[SEVERITY_COLORS.get(notice.severity, "primary")])
            if notice.title:
                head.append(f" {notice.title}", style="bold")
            log.write(head)
            log.write(Text(notice.message))
            log.write(Text(""))
