"""The status line every full screen shows above its footer: registry health, running and
queued runs, the last error (and the key of the notifications log)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.widgets import Static

from qbtui.tui.host import Host, host

FOLDERS = re.compile(r"(?<![\w.])/(?:[^/\s:]+/)+")


def short_error(message: str) -> str:
    """The first line of an error with folders dropped from its paths (`/a/b/registry.toml:7` -> `registry.toml:7`)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return FOLDERS.sub("", first)


def status_text(app: Host) -> Text:
    """`registry OK · 1 running (ada 12/60) · 2 queued · last error: … · ctrl+l log`."""
    colors = app.theme_variables
    workspace = app.workspace
    text = Text()
    problem = workspace.registry_problem
    if problem is None:
        text.append("registry OK", style=colors["success"])
    else:
        text.append(f"registry error: {problem} (last good kept)", style=colors["error"])
    runs = workspace.runs()
    running = [run for run in runs if run.state == "running"]
    queued = sum(run.state == "queued" for run in runs)
    text.append(" · ")
    if running:
        run = running[0]
        text.append(f"{len(running)} running ({run.friend_id} {run.step}/{run.max_steps})", style=colors["accent"])
    else:
        text.append("nothing running", style="dim")
    text.append(f" · {queued} queued")
    last_error = app.notices.last_error()
    if last_error is not None:
        text.append(" · last error: ", style="dim")
        text.append(short_error(last_error), style=colors["error"])
    text.append(" · ctrl+l notices", style="dim")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class StatusLine(Static):
    """One line, after the screen's body and above its (docked) footer; redrawn when the app says so."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
    }
    """

    def on_mount(self) -> None:
        self.show_status()

    def show_status(self) -> None:
        text = status_text(host(self))
        if str(self.content) != text.plain:
            self.update(text)
