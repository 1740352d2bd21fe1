"""The likeness chart of the Training screen: one line per LoRA weight by step (lower is more
alike), the base model's level as a reference line and the same-person threshold marked; a
summary line above it names the best cell so far. It only renders `LikenessTrack`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label
from textual_plotext import PlotextPlot

from qbtui.likeness.live import LikenessTrack
from qbtui.likeness.scoring import SAME_PERSON


def likeness_summary(track: LikenessTrack) -> str:
    """`likeness: best 0.41 (800@0.8) · base 0.78 · same person < 0.6`."""
    best = track.best_words or "no cell with faces yet"
    base = f" · base {track.base:.2f}" if track.base is not None else ""
    return f"likeness: {best}{base} · same person < {SAME_PERSON}"


class LikenessChart(Vertical):
    """A summary line over a braille chart of likeness by step, one line per weight."""

    DEFAULT_CSS = """
    LikenessChart { height: auto; }
    LikenessChart #likeness-summary { color: $text-muted; width: 1fr; height: 1; }
    LikenessChart PlotextPlot { height: 1fr; min-height: 4; }
    """

    lines = 0
    """How many weights the chart draws."""

    def compose(self) -> ComposeResult:
        yield Label(likeness_summary(LikenessTrack()), id="likeness-summary")
        yield PlotextPlot(id="likeness-plot")

    def show(self, track: LikenessTrack) -> None:
        """Redraw for the run's scores so far."""
        self.query_one("#likeness-summary", Label).update(likeness_summary(track), layout=False)
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("step")
        plt.ylabel("likeness")
        steps = [step for points in track.by_weight.values() for step, _ in points]
        self.lines = len(track.by_weight)
        for weight, points in sorted(track.by_weight.items()):
            plt.plot([float(step) for step, _ in points], [value for _, value in points], label=f"w{weight:g}", marker="braille")
        if steps:
            plt.hline(SAME_PERSON, color="red")
            if track.base is not None:
                plt.hline(track.base, color="gray")
        plot.refresh()
