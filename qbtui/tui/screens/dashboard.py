"""The start screen: every friend in a table, the selected friend's details beside it."""

from __future__ import annotations

import os

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from qbtui.printable import printable
from qbtui.runs.info import RESUMABLE_STATES
from qbtui.tui.host import Host, host
from qbtui.tui.intents import OpenDataset, OpenTraining, StopFriendRun
from qbtui.tui.messages import FriendChanged, RegistryChanged, RunsUpdated
from qbtui.tui.widgets.friend_table import FriendTable
from qbtui.tui.widgets.sample_strip import SampleStrip
from qbtui.tui.widgets.steady_footer import SteadyFooter
from qbtui.workspace.samples import RunSample

PANEL_PROBLEMS = 8
# The side panel as app.tcss sizes it beside the table: 35% of the width, 44 to 90 cells.
PANEL_SHARE = 35
PANEL_MIN_WIDTH = 44
PANEL_MAX_WIDTH = 90
# Under the table, the thumbnails go beside the text from this width; below it they shrink to one line.
THUMBNAILS_BESIDE_WIDTH = 70


def friend_details(app: Host, friend_id: str) -> Text:
    """The side panel's text: problems with their fixes, the running training, trainings (the samples are thumbnails)."""
    workspace = app.workspace
    friend = workspace.friend(friend_id)
    colors = app.theme_variables
    text = Text()
    text.append(printable(friend.name), style="bold")
    text.append(f"  {friend.token}  repeats {friend.repeats}\n", style="dim")
    status = workspace.status(friend_id)
    if status is None:
        text.append("scanning the dataset…\n", style="dim")
    else:
        problems = status.all_problems()
        if problems:
            text.append(f"Problems ({len(problems)})\n", style=f"bold {colors['error']}")
            for problem in problems[:PANEL_PROBLEMS]:
                marker = "✗" if problem.severity == "error" else "!"
                message = printable(problem.message.replace(f"{status.folder}{os.sep}", ""))
                text.append(f" {marker} {message}\n", style=colors["error" if problem.severity == "error" else "warning"])
                text.append(f"   fix: {printable(problem.fix)}\n", style="dim")
            if len(problems) > PANEL_PROBLEMS:
                text.append(f"   … {len(problems) - PANEL_PROBLEMS} more: open the dataset (enter)\n", style="dim")
        else:
            text.append(f"Dataset ready: {status.image_count} images\n", style=colors["success"])
        if status.faces is not None:
            text.append(f"Faces: {status.faces.describe()}\n", style="dim")
    latest = workspace.latest_run(friend_id)
    if latest is not None and latest.live and latest.chosen is not None:
        text.append(f"Likeness: {latest.chosen.words}\n", style=colors["accent"])
    elif latest is not None and latest.best_words:
        text.append(f"Likeness: {latest.best_words}{' so far' if latest.live else ''}\n", style=colors["accent"])
    text.append("Trainings\n", style="bold")
    if latest is not None and (latest.live or latest.state in RESUMABLE_STATES):
        marker = "▶ " if latest.live else ""
        text.append(f" {marker}{latest.state_words}\n", style=colors["accent" if latest.live else "warning"])
    elif not friend.trainings:
        blocker = status.blocker() if status is not None else None
        if blocker:
            text.append(f" blocked: {blocker} (enter: open the dataset)\n", style=colors["warning"])
        else:
            text.append(" none yet (t to train)\n", style="dim")
    for training in reversed(friend.trainings):
        text.append(
            f" {training.date[:16]}  {training.steps} steps  {training.images} imgs  {training.preset}/{training.backend}\n"
        )
        if training.lora_file:
            text.append(f"   {training.lora_file}\n", style="dim")
    return text


def latest_samples(app: Host, friend_id: str) -> list[RunSample]:
    """The friend's samples, newest first: the newest run's last drawn first."""
    workspace = app.workspace
    runs = sorted(workspace.runs_for(friend_id), key=lambda run: run.started_at or 0, reverse=True)
    return [sample for run in runs for sample in reversed(workspace.trace(run.run_id).samples)]


class DashboardScreen(Screen):
    """Friends table with a side panel; updates live from the watcher and the run poller."""

    BINDINGS = [
        Binding("d", "dataset", "Dataset", id="dashboard.dataset"),
        Binding("t", "train", "Train", id="dashboard.train"),
        Binding("x", "stop", "Stop", id="dashboard.stop"),
        Binding("a", "add_friend", "Add", id="dashboard.add"),
        Binding("p", "prompt", "Prompt", id="dashboard.prompt"),
        Binding("r", "runs", "Runs", id="dashboard.runs"),
        Binding("q", "app.quit", "Quit", id="dashboard.quit"),
    ]
    # Under the table, whether the panel is wide enough for thumbnails beside its text (set by _arrange).
    _room_beside = False

    def compose(self) -> ComposeResult:
        yield Header(icon="✎")
        with Horizontal(id="dashboard-body"):
            yield FriendTable(id="friends")
            with Vertical(id="friend-panel"):
                with VerticalScroll(id="friend-text"):
                    yield Static(id="friend-details")
                yield SampleStrip(id="friend-samples")
        # Compact: every key, `q Quit` and `f1 Help` included, fits 80 columns.
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(FriendTable).sync(host(self).workspace)
        self._arrange()
        self._show_details()

    def on_resize(self) -> None:
        self._arrange()

    def _arrange(self) -> None:
        """The panel beside the table where the table still gets its full width, else below it."""
        width = self.size.width
        panel = min(PANEL_MAX_WIDTH, max(PANEL_MIN_WIDTH, width * PANEL_SHARE // 100))
        side = width - panel >= self.table.full_width(host(self).workspace)
        self.set_class(side, "-side-panel")
        self._room_beside = not side and width >= THUMBNAILS_BESIDE_WIDTH
        self._place_samples()

    def _place_samples(self) -> None:
        """Thumbnails beside the text under the table where there are some and the room; else one line under it."""
        self.set_class(self._room_beside and bool(self.query_one(SampleStrip).samples), "-thumbnails-beside")

    @property
    def table(self) -> FriendTable:
        return self.query_one(FriendTable)

    def _show_details(self) -> None:
        friend_id = self.table.selected_friend_id
        details = self.query_one("#friend-details", Static)
        strip = self.query_one(SampleStrip)
        if friend_id is None:
            details.update(Text("No friends yet. Press a to add one.", style="dim"))
            strip.show([])
        else:
            details.update(friend_details(host(self), friend_id))
            strip.show(latest_samples(host(self), friend_id))
        self._place_samples()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_details()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_dataset()

    def on_friend_changed(self, message: FriendChanged) -> None:
        self.table.refresh_friend(host(self).workspace, message.friend_id)
        if message.friend_id == self.table.selected_friend_id:
            self._show_details()

    def select_friend(self, friend_id: str) -> None:
        """Put the cursor on `friend_id` (a friend just added), the rows first made to match the registry."""
        self.table.sync(host(self).workspace)
        if friend_id in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(friend_id))
        self._show_details()

    def on_registry_changed(self, message: RegistryChanged) -> None:
        self.table.sync(host(self).workspace)
        self._arrange()
        self._show_details()

    def on_runs_updated(self, message: RunsUpdated) -> None:
        workspace = host(self).workspace
        runs = [run for run in map(workspace.run, message.run_ids) if run is not None]
        if len(runs) < len(message.run_ids):
            self.table.sync(workspace)
        else:
            for friend_id in {run.friend_id for run in runs}:
                self.table.refresh_friend(workspace, friend_id)
        self._arrange()
        self._show_details()

    def on_screen_resume(self) -> None:
        self.table.sync(host(self).workspace)
        self._show_details()

    def _with_friend(self) -> str | None:
        friend_id = self.table.selected_friend_id
        if friend_id is None:
            self.notify("No friend selected: add one with a", severity="warning")
        return friend_id

    def action_dataset(self) -> None:
        if friend_id := self._with_friend():
            self.post_message(OpenDataset(friend_id))

    def action_train(self) -> None:
        if friend_id := self._with_friend():
            self.post_message(OpenTraining(friend_id))

    def action_stop(self) -> None:
        if friend_id := self._with_friend():
            self.post_message(StopFriendRun(friend_id))

    async def action_add_friend(self) -> None:
        await self.app.run_action("add_friend")

    async def action_prompt(self) -> None:
        await self.app.run_action("prompt")

    async def action_runs(self) -> None:
        await self.app.run_action("runs")
