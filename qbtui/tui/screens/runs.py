"""Every run with its state and where it is (here, a host; a queued run: where it may
start, `anywhere` for the first free place), in queue order: queued runs first (with their
place in the queue, `u`/`d` move them, and under the table why the selected one waits), then
running ones, then the rest newest first. Above the table: what the listing warns of (a run
folder it skipped, and why), gone at the next listing once the cause is. A queued run can be cancelled and a running one
stopped (each after a confirmation), a stopped, failed or crashed one resumed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Static

from qbtui.printable import printable
from qbtui.rundir import run_id_labels
from qbtui.runs.format import wait_words
from qbtui.tui.host import host
from qbtui.tui.intents import CancelQueued, MoveQueued, OpenTraining, ResumeRun, StopRun
from qbtui.tui.messages import RunsUpdated, RunWarnings
from qbtui.tui.widgets.dataset_confirm import ConfirmScreen
from qbtui.tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from qbtui.runs import RunInfo

COLUMNS = (
    ("place", "#"),
    ("friend", "Friend"),
    ("run", "Run"),
    ("state", "State"),
    ("where", "Where"),
    ("step", "Step"),
    ("loss", "Loss"),
    ("eta", "ETA"),
    ("backend", "Backend"),
)
# Each column is drawn with one blank cell either side; the run id gets what the others leave.
PADDING = 2
RUN_MIN_WIDTH = 11  # a run id's shortest label: `12-06 10:09`
FRIEND_MAX_WIDTH = 16
# Kept free for a vertical scrollbar, so that a growing list never pushes Backend off the edge.
SCROLLBAR_ROOM = 2
STATE_COLORS = {
    "running": "accent",
    "queued": "primary",
    "completed": "success",
    "stopped": "warning",
    "failed": "error",
    "crashed": "error",
    "disconnected": "warning",
}
RESUMABLE_STATES = ("stopped", "failed", "crashed")
ORDER_HINT = "order: queued first (# = place, u/d move) · running · the rest newest first"


def run_cells(run: RunInfo, place: int | None, colors: dict[str, str], friend: str = "") -> list[object]:
    """One row of the runs table; `place` is the run's place in the queue. Loss is the running
    average (raw loss until the backend reports one), as `qbtui runs` prints it."""
    shown_loss = run.avg_loss if run.avg_loss is not None else run.loss
    loss = f"{shown_loss:.3f}" if shown_loss is not None else "-"
    return [
        str(place) if place is not None else "",
        friend or run.friend_id,
        run.run_id,
        Text(run.activity_words, style=colors[STATE_COLORS.get(run.state, "foreground")]),
        run.where,
        f"{run.step}/{run.max_steps}",
        loss,
        run.eta_words,
        f"{run.backend}/{run.preset}",
    ]


def column_widths(room: int, rows: list[list[object]]) -> dict[str, int]:
    """Every column at its widest cell (Friend up to 16), the run id in what is left (at least 10)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
    widths = {
        key: max([len(label), *(cell_len(str(cell)) for cell in column)])
        for (key, label), column in zip(COLUMNS, columns, strict=True)
    }
    widths["friend"] = min(FRIEND_MAX_WIDTH, widths["friend"])
    others = sum(width for key, width in widths.items() if key != "run") + PADDING * len(widths)
    widths["run"] = max(RUN_MIN_WIDTH, min(widths["run"], room - others))
    return widths


def run_id_shown(run_id: str, width: int) -> str:
    """The longest of the run id's labels that fits (`12-06 10:09 2e3e`: the Friend column names the friend),
    else the shortest cut at its start."""
    labels = run_id_labels(run_id)
    return elided_start(next((label for label in labels if len(label) <= width), labels[-1]), width)


def elided_start(text: str, width: int) -> str:
    """`…051030-ada-9aad`: the end of a run id kept (its friend and suffix tell runs apart)."""
    return text if len(text) <= width else "…" + text[len(text) - width + 1 :]


def elided_end(text: str, width: int) -> str:
    """`Mary Jane O'Br…`: a name cut to `width` cells."""
    shown = Text(text)
    shown.truncate(width, overflow="ellipsis")
    return shown.plain


class RunsScreen(Screen):
    """The run list in queue order (see the module docstring)."""

    BINDINGS = [
        Binding("enter", "open", "Open", id="runs.open"),
        Binding("u", "move_up", "Up", id="runs.up"),
        Binding("d", "move_down", "Down", id="runs.down"),
        Binding("c", "cancel", "Cancel", tooltip="Cancel the queued run", id="runs.cancel"),
        Binding("x", "stop", "Stop", id="runs.stop"),
        Binding("r", "resume", "Resume", id="runs.resume"),
        Binding("v", "compare", "Likeness", id="runs.compare"),
        Binding("escape", "app.back", "Back", id="runs.back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header(icon="✎")
        yield Label("", id="runs-summary")
        yield Label(ORDER_HINT, id="runs-order")
        yield Static("", id="runs-warnings")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="runs-table")
        yield Label("", id="runs-why")
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "runs and queue"
        self._widths: dict[str, int] = {}
        self.refresh_table()

    def on_resize(self) -> None:
        self.refresh_table()

    def refresh_table(self) -> None:
        workspace = host(self).workspace
        table = self.query_one(DataTable)
        runs = workspace.runs_in_queue_order()
        selected = self.selected_run_id
        colors = self.app.theme_variables
        names = {friend.id: friend.name for friend in workspace.friends()}
        rows = [
            run_cells(
                run, workspace.queue_position(run.run_id) if run.state == "queued" else None, colors, names.get(run.friend_id, "")
            )
            for run in runs
        ]
        room = (self.size.width or table.size.width) - SCROLLBAR_ROOM
        widths = column_widths(room, rows)
        if widths != self._widths:
            self._widths = widths
            table.clear(columns=True)
            for key, label in COLUMNS:
                table.add_column(label, key=key, width=widths[key])
        table.clear()
        for run, row in zip(runs, rows, strict=True):
            row[1] = elided_end(str(row[1]), widths["friend"])
            row[2] = run_id_shown(run.run_id, widths["run"])
            table.add_row(*row, key=run.run_id)
        ids = [run.run_id for run in runs]
        if selected in ids:
            table.move_cursor(row=ids.index(selected))
        live = sum(run.state == "running" for run in runs)
        queued = sum(run.state == "queued" for run in runs)
        summary = f"{len(runs)} runs · {live} running · {queued} queued · Loss: the running average"
        self.query_one("#runs-summary", Label).update(summary)
        self.show_warnings()
        self.show_why()

    def show_warnings(self) -> None:
        """Above the table: what the last listing of runs warned of, one a line (hidden when nothing)."""
        warnings = host(self).workspace.run_warnings()
        line = self.query_one("#runs-warnings", Static)
        line.update(Content("\n".join(f"warning: {printable(warning)}" for warning in warnings)))
        line.display = bool(warnings)

    def show_why(self) -> None:
        """Under the table: why the selected queued run has not started (the queue's own reason),
        or the best likeness the selected run scored so far."""
        run_id = self.selected_run_id
        workspace = host(self).workspace
        reason = workspace.wait_reason(run_id) if run_id else None
        text = "" if reason is None else f"{run_id}: {wait_words(reason)}"
        run = workspace.run(run_id) if run_id and reason is None else None
        if run is not None and run.live and run.chosen is not None:
            text = f"{run_id}: {run.chosen.words}"
        elif run is not None and run.best_words:
            text = f"{run_id}: {run.best_words}"
        self.query_one("#runs-why", Label).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_why()

    @property
    def selected_run_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected_run(self) -> RunInfo | None:
        run_id = self.selected_run_id
        return host(self).workspace.run(run_id) if run_id else None

    def on_runs_updated(self, message: RunsUpdated) -> None:
        self.refresh_table()

    def on_run_warnings(self, message: RunWarnings) -> None:
        self.show_warnings()

    def on_screen_resume(self) -> None:
        self.refresh_table()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def _queued(self) -> RunInfo | None:
        run = self.selected_run()
        if run is None or run.state != "queued":
            self.notify("only a queued run can be moved or cancelled", severity="warning")
            return None
        return run

    def action_open(self) -> None:
        """The run's Training screen, over this one: `esc` there comes back here."""
        if run := self.selected_run():
            self.post_message(OpenTraining(run.friend_id, over=True))

    def action_move_up(self) -> None:
        if run := self._queued():
            self.post_message(MoveQueued(run.run_id, -1))

    def action_move_down(self) -> None:
        if run := self._queued():
            self.post_message(MoveQueued(run.run_id, 1))

    def action_cancel(self) -> None:
        """Take the queued run off the queue, once the user confirms."""
        if not (run := self._queued()):
            return
        run_id = run.run_id

        def answered(agreed: bool | None) -> None:
            if agreed:
                self.post_message(CancelQueued(run_id))

        question = f"Cancel the queued run {run_id}?\nIt leaves the queue and its empty folder is removed."
        self.app.push_screen(ConfirmScreen(question, title="Cancel queued run"), answered)

    def action_stop(self) -> None:
        """Stop the running run (its state stays for resume, r), once the user confirms."""
        run = self.selected_run()
        if run is None or run.state != "running":
            self.notify("only a running run can be stopped", severity="warning")
            return
        run_id = run.run_id

        def answered(agreed: bool | None) -> None:
            if agreed:
                self.post_message(StopRun(run_id))

        question = f"Stop {run_id} at step {run.step}/{run.max_steps}?\nIts state is kept: r resumes it later."
        self.app.push_screen(ConfirmScreen(question, title="Stop run"), answered)

    def action_resume(self) -> None:
        run = self.selected_run()
        if run is None or run.state not in RESUMABLE_STATES:
            self.notify("only a stopped, failed or crashed run can be resumed", severity="warning")
            return
        self.post_message(ResumeRun(run.run_id))

    def action_compare(self) -> None:
        """The selected run's likeness grid (for an evaluation run: the run it scored)."""
        from qbtui.tui.screens.compare import CompareScreen

        if run := self.selected_run():
            self.app.push_screen(CompareScreen(run.run_id))
