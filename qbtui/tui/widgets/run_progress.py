"""A run's progress: bar with step/max, and a line of speed, times and learning rate."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.clock import Clock
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar

from qbtui.runs.format import format_duration

if TYPE_CHECKING:
    from qbtui.runs import RunInfo


def progress_line(run: RunInfo, now: float, learning_rate: float | None) -> str:
    """`step 340/1200 · ETA 7:45 · 1.85 it/s · elapsed 3:04 · lr 1.0e-04` (times while running);
    `evaluating 7/41 · ETA 2:10 · elapsed 9m30s` during the likeness pass after the last step; while a
    checkpoint is scored, its samples drawn and an ETA with the scoring left in it."""
    if run.after_training:
        elapsed = now - run.started_at if run.started_at else None
        return f"{run.progress_words} · elapsed {format_duration(elapsed)}"
    parts = [run.progress_words]  # `step 340/1200`, or `step 20/40 · scoring likeness 2/4` at a checkpoint
    if run.state == "running":
        parts.append(f"ETA {run.eta_words}")  # next to the step, so a narrow screen cuts the speed first
    parts.append(f"{run.it_s:.2f} it/s" if run.it_s else "- it/s")
    if run.state == "running":
        elapsed = now - run.started_at if run.started_at else None
        parts.append(f"elapsed {format_duration(elapsed)}")
    if learning_rate is not None:
        parts.append(f"lr {learning_rate:.1e}")
    return " · ".join(parts)


class RunProgress(Vertical):
    """ProgressBar (with an injectable clock) and the run's speed/time line."""

    DEFAULT_CSS = """
    RunProgress { height: auto; }
    RunProgress ProgressBar { width: 1fr; }
    RunProgress Bar { width: 1fr; }
    RunProgress #run-line { width: 1fr; height: 1; }
    """

    def __init__(self, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield ProgressBar(total=1, show_eta=False, clock=Clock(get_time=self.clock), id="run-bar")
        yield Label("no run yet", id="run-line")

    def show(self, run: RunInfo | None, learning_rate: float | None) -> None:
        """Move the bar and rewrite the line for `run` (or say there is none)."""
        bar = self.query_one("#run-bar", ProgressBar)
        if run is None:
            bar.update(total=1, progress=0)
            self._line("no run yet: pick a preset and a backend, then start")
            return
        if run.evaluating:
            bar.update(total=max(run.eval_total, 1), progress=run.eval_done)
        else:
            bar.update(total=max(run.max_steps, 1), progress=run.step)
        line = progress_line(run, self.clock(), learning_rate)
        self._line(line if run.after_training else f"{run.state}: {line}")

    def _line(self, text: str) -> None:
        """Rewrite the one-line summary only when it changed (its size never does)."""
        line = self.query_one("#run-line", Label)
        if str(line.content) != text:
            line.update(text, layout=False)
