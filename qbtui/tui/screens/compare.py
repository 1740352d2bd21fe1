"""Compare a run's LoRA files for likeness: samples of every checkpoint (rows) at every weight
(columns), the score under each, the evaluation's choice marked; move, and pick another choice.

Rows share the height but never shrink below `MIN_ROW_HEIGHT`; more rows scroll, following the cursor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from qbtui.errors import QbtuiError
from qbtui.likeness.report import cell_summary, choice_line
from qbtui.printable import printable
from qbtui.tui.host import host
from qbtui.tui.messages import RunsUpdated
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from qbtui.likeness.report import Evaluation
    from qbtui.likeness.scoring import CellScore
    from qbtui.runs.evaluation import EvaluationStatus

CHOSEN_MARK = "★ "
LABEL_COLUMN_WIDTH = 7
# Rows never shrink below this (a sample of 4 rows and the borders); more rows than fit scroll.
MIN_ROW_HEIGHT = 6


def grid_of(evaluation: Evaluation) -> tuple[list[str], list[float], list[list[CellScore | None]]]:
    """Row labels (the base model first), weight columns, and the cells at each place (the base model in the first column)."""
    labels = list(dict.fromkeys(cell.label for cell in evaluation.cells))
    weights = sorted({cell.weight for cell in evaluation.cells if not cell.baseline})
    rows: list[list[CellScore | None]] = []
    for label in labels:
        row: list[CellScore | None] = [None] * max(1, len(weights))
        for cell in evaluation.cells:
            if cell.label != label:
                continue
            row[0 if cell.baseline else weights.index(cell.weight)] = cell
        rows.append(row)
    return labels, weights, rows


class CompareCell(Vertical):
    """One LoRA file at one weight: a sample, its weight (★ when chosen) on the top border, its score on the bottom one."""

    DEFAULT_CSS = """
    CompareCell {
        border: round $panel;
        border-title-align: left;
        border-title-color: $text-muted;
        border-subtitle-align: center;
        border-subtitle-color: $text;
        height: 1fr;
    }
    CompareCell.-selected {
        border: heavy $accent;
    }
    CompareCell.-chosen {
        border-title-color: $success;
        border-title-style: bold;
        border-subtitle-color: $success;
        border-subtitle-style: bold;
    }
    CompareCell > ImagePreview {
        height: 1fr;
    }
    """

    def __init__(self, cell: CellScore, *, chosen: bool, id: str | None = None) -> None:
        super().__init__(id=id, classes="-chosen" if chosen else "")
        self.cell = cell
        self.chosen = chosen
        self._label_borders()

    def compose(self) -> ComposeResult:
        yield ImagePreview()

    def _label_borders(self) -> None:
        self.border_title = (CHOSEN_MARK if self.chosen else "") + f"w {self.cell.weight:g}"
        self.border_subtitle = cell_summary(self.cell)

    def update_cell(self, cell: CellScore, *, chosen: bool) -> None:
        self.cell, self.chosen = cell, chosen
        self.set_class(chosen, "-chosen")
        self._label_borders()

    def show_sample(self, index: int) -> None:
        samples = self.cell.samples
        self.query_one(ImagePreview).path = Path(samples[index % len(samples)].path) if samples else None


class CompareScreen(Screen):
    """The likeness grid of one run."""

    DEFAULT_CSS = """
    CompareScreen #compare-summary, CompareScreen #compare-choice {
        height: auto;
        padding: 0 1;
    }
    CompareScreen #compare-scroll {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    CompareScreen #compare-grid {
        height: auto;
        grid-gutter: 0;
    }
    CompareScreen .compare-row-label {
        height: 1fr;
        content-align: right middle;
        padding-right: 1;
    }
    """

    BINDINGS = [
        Binding("left", "move(0, -1)", "←", show=False, id="compare.left"),
        Binding("right", "move(0, 1)", "→", show=False, id="compare.right"),
        Binding("up", "move(-1, 0)", "↑", show=False, id="compare.up"),
        Binding("down", "move(1, 0)", "↓", show=False, id="compare.down"),
        Binding("enter,c", "pick", "Choose", id="compare.pick"),
        Binding("n", "sample(1)", "Next sample", id="compare.next"),
        Binding("p", "sample(-1)", "Prev sample", show=False, id="compare.previous"),
        Binding("e", "evaluate", "Evaluate again", id="compare.evaluate"),
        Binding("escape", "app.pop_screen", "Back", id="compare.back"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.evaluation: Evaluation | None = None
        self.rows: list[list[CellScore | None]] = []
        self.position = (0, 0)
        self.sample = 0
        self.status: EvaluationStatus | None = None  # what scores the run now (a pass, its training), as last read

    def compose(self) -> ComposeResult:
        yield Header(icon="✎")
        yield Static("reading the evaluation ...", id="compare-summary", markup=False)
        with VerticalScroll(id="compare-scroll", can_focus=False):
            yield Grid(id="compare-grid")
        yield Static("", id="compare-choice", markup=False)
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"likeness of {self.run_id}"
        self.load()

    @work(thread=True, exclusive=True, group="compare-load", exit_on_error=False)
    def load(self) -> None:
        try:
            status = host(self).workspace.evaluation_status(self.run_id)
        except QbtuiError as error:
            self.app.call_from_thread(self._show_message, str(error))
            return
        self.app.call_from_thread(self.show_evaluation, status.evaluation, status)

    def on_runs_updated(self, message: RunsUpdated) -> None:
        if self.status is not None:
            workspace = host(self).workspace
            for run_id in message.run_ids:
                self.status = self.status.following(workspace.run(run_id))
            self._tell_status()
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`e` only when a pass may start (not while the run trains or a pass runs over it)."""
        if action == "evaluate":
            return self.status is None or self.status.can_evaluate
        return True

    @property
    def pass_words(self) -> str | None:
        """The likeness pass running over the run now, in words (None when none runs)."""
        return self.status.running_words if self.status is not None else None

    def _tell_status(self) -> None:
        """Redraw the summary from `status` (a pass's progress follows the run's snapshot)."""
        if self.evaluation is not None:
            self._describe(self._cell_at(self.position))
        elif self.status is not None:
            offer = ": press e to evaluate it" if self.status.can_evaluate and self.status.skipped is None else ""
            self._show_message(self.status.missing_words + offer)

    def _show_message(self, text: str) -> None:
        self.query_one("#compare-summary", Static).update(text)

    def show_evaluation(self, evaluation: Evaluation | None, status: EvaluationStatus | None = None) -> None:
        """Rebuild the grid when the evaluation changed; keep the cursor where it was. While a pass runs
        (`status.running`) the summary says so; with no scores it says why (never to evaluate again while one runs)."""
        if status is not None:
            self.status = status
            self.refresh_bindings()
        if evaluation is None:
            self.evaluation = None
            self.query_one("#compare-grid", Grid).remove_children()
            self._tell_status()
            return
        if self.evaluation is not None and evaluation.to_json() == self.evaluation.to_json():
            self._tell_status()
            return
        previous = self.evaluation
        first = previous is None
        same_grid = previous is not None and [cell.key for cell in evaluation.cells] == [cell.key for cell in previous.cells]
        self.evaluation = evaluation
        if same_grid:
            self._mark_choice(evaluation)
            return
        labels, weights, self.rows = grid_of(evaluation)
        grid = self.query_one("#compare-grid", Grid)
        grid.remove_children()
        columns = max(1, len(weights))
        grid.styles.grid_size_columns = columns + 1
        grid.styles.grid_columns = f"{LABEL_COLUMN_WIDTH} " + " ".join(["1fr"] * columns)
        self._size_rows()
        widgets: list = []
        chosen_key = evaluation.chosen.key if evaluation.chosen else None
        for label, row in zip(labels, self.rows, strict=True):
            widgets.append(Static(label, classes="compare-row-label"))
            for cell in row:
                if cell is None:
                    widgets.append(Static(""))
                else:
                    widgets.append(CompareCell(cell, chosen=cell.key == chosen_key))
        grid.mount_all(widgets)
        if first or self._cell_at(self.position) is None:
            self.position = self._first_position(chosen_key)
        self.call_after_refresh(self._size_rows)
        self.call_after_refresh(self._refresh_cells)

    def on_resize(self) -> None:
        self._size_rows()

    def _size_rows(self) -> None:
        """Share the view's height among the rows, each at least `MIN_ROW_HEIGHT`; more rows scroll."""
        if not self.rows:
            return
        available = self.query_one("#compare-scroll", VerticalScroll).size.height
        height = max(MIN_ROW_HEIGHT, available // len(self.rows))
        self.query_one("#compare-grid", Grid).styles.grid_rows = " ".join([str(height)] * len(self.rows))

    def _mark_choice(self, evaluation: Evaluation) -> None:
        """A new choice over the same cells: move the mark, keep the grid and its images."""
        chosen_key = evaluation.chosen.key if evaluation.chosen else None
        cells = {cell.key: cell for cell in evaluation.cells}
        self.rows = [[cells[cell.key] if cell else None for cell in row] for row in self.rows]
        for widget in self.query(CompareCell):
            widget.update_cell(cells[widget.cell.key], chosen=widget.cell.key == chosen_key)
        self._refresh_cells()

    def _first_position(self, key: str | None) -> tuple[int, int]:
        places = [(r, c) for r, row in enumerate(self.rows) for c, cell in enumerate(row) if cell is not None]
        chosen = [place for place in places if (cell := self._cell_at(place)) is not None and cell.key == key]
        return (chosen or places or [(0, 0)])[0]

    def _cell_at(self, place: tuple[int, int]) -> CellScore | None:
        row, column = place
        if 0 <= row < len(self.rows) and 0 <= column < len(self.rows[row]):
            return self.rows[row][column]
        return None

    def _refresh_cells(self) -> None:
        selected = self._cell_at(self.position)
        for widget in self.query(CompareCell):
            widget.set_class(widget.cell is selected, "-selected")
            widget.show_sample(self.sample)
            if widget.cell is selected:
                self.query_one("#compare-scroll", VerticalScroll).scroll_to_widget(widget, animate=False)
        self._describe(selected)

    def _describe(self, cell: CellScore | None) -> None:
        evaluation = self.evaluation
        if evaluation is None:
            return
        lines = [choice_line(evaluation)] + [f"warning: {warning}" for warning in evaluation.warnings]
        self.query_one("#compare-choice", Static).update(printable("\n".join(lines), keep_newlines=True))
        if cell is None and self.pass_words:
            self._show_message(self.pass_words)
            return
        if cell is None:
            self._show_message(f"this evaluation drew no samples: press e to evaluate run {self.run_id} again")
            return
        sample = cell.samples[self.sample % len(cell.samples)] if cell.samples else None
        shown = (
            f"sample {self.sample % len(cell.samples) + 1}/{len(cell.samples)}: {sample.prompt}, seed {sample.seed}"
            if sample
            else ""
        )
        collapse = " · seeds collapse to one face" if cell.collapsed else ""
        matched = "-" if cell.match_rate is None else f"{cell.match_rate:.0%}"
        running = f"{self.pass_words} · " if self.pass_words else ""
        self._show_message(f"{running}{cell.label} @ {cell.weight:g}: {cell_summary(cell)} · match {matched}{collapse}\n{shown}")

    def action_move(self, rows: int, columns: int) -> None:
        row, column = self.position
        while True:
            row, column = row + rows, column + columns
            if not (0 <= row < len(self.rows)) or column < 0 or column >= max(len(r) for r in self.rows):
                return
            if self._cell_at((row, column)) is not None:
                break
            if rows and not columns:
                # moving between rows lands on the nearest cell of the new row
                places = [c for c, cell in enumerate(self.rows[row]) if cell is not None]
                if places:
                    column = min(places, key=lambda c: abs(c - self.position[1]))
                    break
        self.position = (row, column)
        self._refresh_cells()

    def action_sample(self, step: int) -> None:
        self.sample += step
        self._refresh_cells()

    def action_pick(self) -> None:
        cell = self._cell_at(self.position)
        if cell is None:
            return
        if cell.baseline:
            self.notify("the base model (weight 0) is the baseline; choose a LoRA file", severity="warning")
            return
        self.pick(cell.key)

    @work(thread=True, exclusive=True, group="compare-pick", exit_on_error=False)
    def pick(self, key: str) -> None:
        try:
            evaluation = host(self).workspace.pick_choice(self.run_id, key)
        except QbtuiError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", timeout=12)
            return
        self.app.call_from_thread(self.show_evaluation, evaluation)
        self.app.call_from_thread(self.notify, f"chosen: {key} (recorded in the registry)")

    @work(thread=True, exclusive=True, group="compare-evaluate", exit_on_error=False)
    def action_evaluate(self) -> None:
        try:
            info = host(self).workspace.start_evaluation(self.run_id)
        except QbtuiError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error", timeout=12)
            return
        self.app.call_from_thread(self.notify, f"evaluation run {info.run_id} started")
