"""The dashboard's table: one row per friend, dataset and training state at a glance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from qbtui.printable import printable
from qbtui.tui.widgets.friend_columns import TRAINING_ROOM, ColumnNeeds, full_width, needs_of, plan_columns
from qbtui.tui.widgets.sparkline import spark_text

if TYPE_CHECKING:
    from qbtui.dataset import FriendStatus
    from qbtui.registry import Friend
    from qbtui.runs import RunInfo
    from qbtui.workspace import Workspace

GUIDE_MIN_IMAGES = 20
GUIDE_MAX_IMAGES = 40
# A vertical scrollbar's cells, kept free when deciding whether the table fits beside the panel.
SCROLLBAR_ROOM = 2
COLUMNS = (
    ("name", "Name"),
    ("token", "Token"),
    ("images", "Imgs"),
    ("captions", "Caps"),
    ("problems", "Probs"),
    ("ready", "Ready"),
    ("training", "Training"),
)


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
    """not trained / blocked: why / queued / running (its phase, step/max, sparkline, ETA) / trained date / crashed."""
    return training_texts(friend, run, colors, (blocker,) if blocker else ())[0]


def training_texts(
    friend: Friend, run: RunInfo | None, colors: dict[str, str], blockers: tuple[str | None, ...] = ()
) -> list[Text]:
    """The training state in words, longest first; each shorter one keeps the state (and a
    running run's phase, step and ETA: `RunInfo.glance_words`) and leaves out a detail (the sparkline, the date, the reason).
    `blockers`: why training is refused, in longer and shorter words."""
    if run is not None and run.state == "disconnected":
        style = colors["warning"]
        return [Text(f"{run.host} not answering · {run.step}/{run.max_steps}", style=style), Text("not answering", style=style)]
    if run is not None and run.state == "running":
        on_host = f"{run.host} " if run.host else ""
        full = Text(f"▶ {on_host}{run.phase_progress} ", style=colors["accent"])
        full.append(spark_text(run.losses, 6), style=colors["primary"])
        full.append(f" {run.eta_words}")
        shorter = [Text(f"▶ {on_host}{run.glance_words}", style=colors["accent"])]
        if on_host:
            shorter.append(Text(f"▶ {run.glance_words}", style=colors["accent"]))
        return [full, *shorter]
    if run is not None and run.state == "queued":
        return [Text("queued", style=colors["accent"])]
    if run is not None and run.state in ("crashed", "failed"):
        return [Text(f"{run.state} at {run.step}", style=colors["error"])]
    if friend.trainings:
        last = friend.trainings[-1]
        style = colors["success"]
        return [
            Text(f"trained {last.date[:10]} · {last.steps} steps", style=style),
            Text(f"trained {last.date[:10]}", style=style),
        ]
    if run is not None and run.state == "completed":
        return [Text(f"trained · {run.step} steps", style=colors["success"]), Text("trained", style=colors["success"])]
    if run is not None and run.state == "stopped":
        return [Text(f"stopped {run.step}/{run.max_steps}", style=colors["warning"])]
    if blockers and blockers[0]:
        reasons = list(dict.fromkeys(f"blocked: {blocker}" for blocker in blockers if blocker))
        return [Text(reason, style=colors["warning"]) for reason in [*reasons, "blocked"]]
    return [Text("not trained", style="dim")]


def fitting(texts: list[Text], width: int) -> Text:
    """The longest of `texts` that fits `width` cells (the shortest when none does)."""
    return next((text for text in texts if text.cell_len <= width), texts[-1])


def elided(text: str, width: int) -> Text:
    """`Mary Jane…`: the text cut to `width` cells with an ellipsis (unchanged when it fits)."""
    shown = Text(text, no_wrap=True)
    shown.truncate(width, overflow="ellipsis")
    return shown


class FriendTable(DataTable):
    """Every friend of the workspace; the row key is the friend's id. Home/End: first/last friend.
    Its columns fit its width (qbtui/tui/widgets/friend_columns.py): re-planned when the width or the rows change."""

    DEFAULT_CSS = "FriendTable { overflow-x: hidden; }"
    BINDINGS = [
        Binding("home", "first_friend", "First friend", show=False, id="friends.first"),
        Binding("end", "last_friend", "Last friend", show=False, id="friends.last"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._workspace: Workspace | None = None
        self._plan: dict[str, int] = {}
        # Each friend's (full, shortest) training text length, as last rendered.
        self._training_lengths: dict[str, tuple[int, int]] = {}

    def needs(self, workspace: Workspace) -> ColumnNeeds:
        """What the friends' rows ask for, at full width."""
        friends = workspace.friends()
        for friend in friends:
            if friend.id not in self._training_lengths:
                self._training_texts(workspace, friend.id)
        training = [self._training_lengths[friend.id] for friend in friends]
        return needs_of([printable(friend.name) for friend in friends], [friend.token for friend in friends], training)

    def full_width(self, workspace: Workspace) -> int:
        """The width at which every column shows in full (and a scrollbar's room)."""
        return full_width(self.needs(workspace)) + SCROLLBAR_ROOM

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

    def _room(self) -> int:
        """The cells the columns may use: the width, less a vertical scrollbar when the rows need one."""
        return self.size.width - (self.scrollbar_size_vertical if self.show_vertical_scrollbar else 0)

    def on_resize(self) -> None:
        if self._workspace is not None:
            self.sync(self._workspace)

    def sync(self, workspace: Workspace) -> None:
        """Make the rows match the registry's friends and the columns the width, keeping the cursor's friend."""
        self._workspace = workspace
        wanted = [friend.id for friend in workspace.friends()]
        present = [key.value for key in self.rows]
        self._training_lengths = {}
        plan = plan_columns(self._room(), self.needs(workspace)) if self.size.width else self._plan
        if wanted != present or not self.columns or plan != self._plan:
            selected = self.selected_friend_id
            self._plan = plan or plan_columns(full_width(self.needs(workspace)), self.needs(workspace))
            self.clear(columns=True)
            for key, label in COLUMNS:
                if key in self._plan:
                    self.add_column(label, key=key, width=self._plan[key])
            for friend in workspace.friends():
                self.add_row(*self._cells(workspace, friend.id), key=friend.id)
            if selected in wanted:
                self.move_cursor(row=wanted.index(selected))
            return
        for friend_id in wanted:
            self.refresh_friend(workspace, friend_id)

    def refresh_friend(self, workspace: Workspace, friend_id: str) -> None:
        """Rewrite one friend's row from the workspace's current state (re-planning the columns
        when its training text no longer fits)."""
        if friend_id not in self.rows:
            return
        cells = self._cells(workspace, friend_id)
        if self.size.width and plan_columns(self._room(), self.needs(workspace)) != self._plan:
            self.sync(workspace)
            return
        shown = [key for key, _ in COLUMNS if key in self._plan]
        for column, value in zip(shown, cells, strict=True):
            self.update_cell(friend_id, column, value)

    def _training_texts(self, workspace: Workspace, friend_id: str) -> list[Text]:
        status = workspace.status(friend_id)
        blockers = (status.blocker(), status.blocker(short=True)) if status is not None else ()
        texts = training_texts(workspace.friend(friend_id), workspace.latest_run(friend_id), self.app.theme_variables, blockers)
        self._training_lengths[friend_id] = (texts[0].cell_len, texts[-1].cell_len)
        return texts

    def _cells(self, workspace: Workspace, friend_id: str) -> list[object]:
        """The shown columns' cells of one friend, each fitted to its column's width."""
        friend = workspace.friend(friend_id)
        status = workspace.status(friend_id)
        colors = self.app.theme_variables
        cells: dict[str, object] = {
            "name": elided(printable(friend.name), self._plan.get("name", len(printable(friend.name)))),
            "token": elided(friend.token, self._plan.get("token", len(friend.token))),
            "images": images_cell(status, colors),
        }
        if status is None:
            pending = Text("…", style="dim")
            cells.update(captions=pending, problems=pending, ready=pending)
        else:
            cells["captions"] = Text(str(status.caption_count))
            cells["problems"] = Text(str(status.problem_count), style=colors["error"] if status.problem_count else "dim")
            cells["ready"] = Text("yes", style=colors["success"]) if status.ready else Text("no", style=colors["error"])
        cells["training"] = fitting(self._training_texts(workspace, friend_id), self._plan.get("training", TRAINING_ROOM))
        return [cells[key] for key, _ in COLUMNS if key in self._plan]
