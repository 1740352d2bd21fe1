"""Loss charts: a one-line sparkline for tables (qbtui.tui.widgets.sparkline, which the
dashboard imports without plotext), and a line chart with axes (step, loss) of the raw loss
and its running average for the Training screen (textual-plotext). The chart's legend is its
summary line above the plot, never drawn over the data."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.color import Color
from textual.containers import Vertical
from textual.widgets import Label
from textual_plotext import PlotextPlot

from qbtui.tui.widgets.sparkline import BLOCKS, spark_text

__all__ = ["BLOCKS", "LossChart", "bucketed", "loss_summary", "spark_text", "step_ticks"]

LEGEND_MARK = "⣿"
# The theme colours of the two lines: the raw loss, its running average.
SERIES_COLORS = ("primary", "accent")
# More points than a chart has columns only slow plotext down: average them into buckets.
MAX_CHART_POINTS = 400
# The plot's frame (2 rows), step ticks and axis labels take 4 rows: 6 leave 2 data rows.
MIN_PLOT_HEIGHT = 6


def loss_summary(losses: Sequence[float], avg_losses: Sequence[float], colors: Sequence[str] = ("", "")) -> Text:
    """`⣿ loss 0.1234 · ⣿ running avg 0.1180 · min 0.0912 · 24 steps`: the chart's legend, each
    line's mark and name in that line's colour (`colors`: the raw loss's, the running average's)."""
    if not losses:
        return Text("loss: waiting for the first step")
    text = Text()
    text.append(f"{LEGEND_MARK} loss", style=colors[0])
    text.append(f" {losses[-1]:.4f}")
    if avg_losses:
        text.append(" · ")
        text.append(f"{LEGEND_MARK} running avg", style=colors[1])
        text.append(f" {avg_losses[-1]:.4f}")
    text.append(f" · min {min(losses):.4f} · {len(losses)} steps")
    return text


def bucketed(steps: Sequence[int], values: Sequence[float], limit: int = MAX_CHART_POINTS) -> tuple[list[float], list[float]]:
    """`steps` and `values` averaged into at most `limit` points."""
    if len(values) <= limit:
        return [float(step) for step in steps], list(values)
    per_point = len(values) / limit
    spans = [(int(index * per_point), int((index + 1) * per_point)) for index in range(limit)]
    return [fmean(steps[start:end]) for start, end in spans], [fmean(values[start:end]) for start, end in spans]


def step_ticks(first: int, last: int, count: int = 5) -> list[int]:
    """Up to `count` whole step numbers spread from `first` to `last` (axis labels without decimals)."""
    if last <= first:
        return [first]
    return sorted({first + round((last - first) * index / (count - 1)) for index in range(count)})


class LossPlot(PlotextPlot):
    """The plot, left blank (the summary line above still says the loss) while it is too low
    for data rows: a frame with no rows between its edges, its y labels upside down, is no chart."""

    def render(self) -> RenderResult:
        if self.size.height < MIN_PLOT_HEIGHT:
            return ""
        return super().render()


class LossChart(Vertical):
    """A summary line over a braille line chart: loss (raw) and running average by step."""

    DEFAULT_CSS = """
    LossChart { height: auto; }
    LossChart #loss-summary { color: $text-muted; width: 1fr; height: 1; }
    LossChart PlotextPlot { height: 1fr; min-height: 4; }
    """

    def compose(self) -> ComposeResult:
        yield Label(loss_summary([], []), id="loss-summary")
        yield LossPlot(id="loss-plot")

    points = 0
    """How many losses the chart shows."""

    def on_mount(self) -> None:
        self.show([], [], [])

    def show(self, steps: Sequence[int], losses: Sequence[float], avg_losses: Sequence[float]) -> None:
        """Redraw the chart for these points (one step number per loss)."""
        colors = [self.app.theme_variables[name] for name in SERIES_COLORS]
        self.query_one("#loss-summary", Label).update(loss_summary(losses, avg_losses, colors), layout=False)
        self.points = len(losses)
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("step")
        plt.ylabel("loss")
        if losses:
            raw_color, avg_color = (Color.parse(color).rgb for color in colors)
            xs, raw = bucketed(steps, losses)
            plt.plot(xs, raw, marker="braille", color=raw_color)
            plt.xticks([float(tick) for tick in step_ticks(steps[0], steps[-1])])
            if avg_losses:
                plt.plot(*bucketed(steps, avg_losses), marker="braille", color=avg_color)
        plot.refresh()
