"""The dashboard's table: one row per friend, dataset and training state at a glance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from qbtui.printable import printable
from qbtui.runs.format import format_duration
from qbtui.tui.widgets.loss_chart import spark_text

if TYPE_CHECKING:
    from qbtui.dataset import FriendStatus
    from qbtui.registry import Friend
    from qbtui.runs import RunInfo
    from qbtui.workspace import Workspace

GUIDE_MIN_IMAGES = 20
GUIDE_MAX_IMAGES = 40
COLUMNS = (
    ("name", "Name"),
    ("token", "Token"),
    ("images", "Imgs"),
    ("captions", "Caps"),
    ("problems", "Probs"),
    ("ready", "Ready"),
    ("training", "Training"),
)
# Fixed widths: measuring every cell on each live update is what makes big tables slow.
# The Training column fits its longest texts (`trained 2026-12-01 · 1200 steps`, `blocked: 8 photos, needs 20`).
FIXED_WIDTHS = {"images": 4, "captions": 4, "problems": 5, "ready": 5, "training": 32}
MAX_TEXT_WIDTH = 18


def images_cell(status: FriendStatus | None, colors: dict[str, str]) -> Text:
    """Image count, green inside the guide's 20-40, amber outside, red at zero."""
    if status is None:
        return Text("…")
    count = status.image_count
    if count == 0:
        color = colors["error"]
    elif GUIDE_MIN_IMAGES <= count <= GUIDE_MAX_IMAGES:
        color = colors["success"]
    else:
        color = colors["warning"]
    return Text(str(count), style=color)


def training_cell(friend: Friend, run: RunInfo | None, colors: dict[str, str], blocker: str | None = None) -> Text:
    """not trained / blocked: why / queued / running step/max + sparkline + ETA / trained date / crashed."""
    if run is not None and run.state == "disconnected":
        return Text(f"{run.host} not answering · {run.step}/{run.max_steps}", style=colors["warning"])
    if run is not None and run.state == "running" and run.after_training:
        return Text(f"▶ {run.progress_words}", style=colors["accent"])
    if run is not None and run.state == "running":
        on_host = f"{run.host} " if run.host else ""
        text = Text(f"▶ {on_host}{run.step}/{run.max_steps} ", style=colors["accent"])
        text.append(spark_text(run.losses, 6), style=colors["primary"])
        text.append(f" {format_duration(run.eta_s)}")
        return text
    if run is not None and run.state == "queued":
        return Text("queued", style=colors["accent"])
    if run is not None and run.state in ("crashed", "failed"):
        return Text(f"{run.state} at {run.step}", style=colors["error"])
    if friend.trainings:
        last = friend.trainings[-1]
        return Text(f"trained {last.date[:10]} · {last.steps} steps", style=colors["success"])
    if run is not None and run.state == "completed":
        return Text(f"trained · {run.step} steps", style=colors["success"])
    if run is not None and run.state == "stopped":
        return Text(f"stopped {run.step}/{run.max_steps}", style=colors["warning"])
    if blocker:
        return Text(f"blocked: {blocker}", style=colors["warning"])
    return Text("not trained", style="dim")


class FriendTable(DataTable):
    """Every friend of the workspace; the row key is the friend's id. Home/End: first/last friend."""

    BINDINGS = [
        Binding("home", "first_friend", "First friend", show=False, id="friends.first"),
        Binding("end", "last_friend", "Last friend", show=False, id="friends.last"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def _add_columns(self, friends: list[Friend]) -> None:
        widths = dict(FIXED_WIDTHS)
        widths["name"] = min(MAX_TEXT_WIDTH, max([len("Name"), *(len(friend.name) for friend in friends)]))
        widths["token"] = min(MAX_TEXT_WIDTH, max([len("Token"), *(len(friend.token) for friend in friends)]))
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=widths[key])

    def action_first_friend(self) -> None:
        self.move_cursor(row=0)

    def action_last_friend(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    @property
    def selected_friend_id(self) -> str | None:
        """The id of the friend under the cursor (None when there are no friends)."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def sync(self, workspace: Workspace) -> None:
        """Make the rows match the registry's friends, keeping the cursor's friend."""
        wanted = [friend.id for friend in workspace.friends()]
        present = [key.value for key in self.rows]
        if wanted != present or not self.columns:
            selected = self.selected_friend_id
            self.clear(columns=True)
            self._add_columns(workspace.friends())
            for friend in workspace.friends():
                self.add_row(*self._cells(workspace, friend.id), key=friend.id)
            if selected in wanted:
                self.move_cursor(row=wanted.index(selected))
            return
        for friend_id in wanted:
            self.refresh_friend(workspace, friend_id)

    def refresh_friend(self, workspace: Workspace, friend_id: str) -> None:
        """Rewrite one friend's row from the workspace's current state."""
        if friend_id not in self.rows:
            return
        for (column, _), value in zip(COLUMNS, self._cells(workspace, friend_id), strict=True):
            self.update_cell(friend_id, column, value)

    def _cells(self, workspace: Workspace, friend_id: str) -> list[object]:
        friend = workspace.friend(friend_id)
        status = workspace.status(friend_id)
        colors = self.app.theme_variables
        if status is None:
            pending = Text("…", style="dim")
            dataset = [pending, pending, pending]
        else:
            problems = Text(str(status.problem_count), style=colors["error"] if status.problem_count else "dim")
            ready = Text("yes", style=colors["success"]) if status.ready else Text("no", style=colors["error"])
            dataset = [Text(str(status.caption_count)), problems, ready]
        blocker = status.blocker() if status is not None else None
        training = training_cell(friend, workspace.latest_run(friend_id), colors, blocker)
        return [Text(printable(friend.name)), friend.token, images_cell(status, colors), *dataset, training]
