"""Loss sparklines: a one-line text version for tables and a large two-line chart."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline

BLOCKS = "▁▂▃▄▅▆▇█"


def spark_text(values: Sequence[float], width: int = 8) -> str:
    """A sparkline of `values` in block characters, bucketed by mean to `width` cells."""
    if not values:
        return ""
    width = min(width, len(values))
    per_cell = len(values) / width
    buckets = [fmean(values[int(cell * per_cell) : int((cell + 1) * per_cell) or 1]) for cell in range(width)]
    low, high = min(buckets), max(buckets)
    if high == low:
        return BLOCKS[len(BLOCKS) // 2] * width
    scale = (len(BLOCKS) - 1) / (high - low)
    return "".join(BLOCKS[round((value - low) * scale)] for value in buckets)


def loss_summary(losses: Sequence[float], avg_losses: Sequence[float]) -> str:
    """`loss 0.1234 (upper) · running avg 0.1180 (lower) · min 0.0912 · 24 steps`."""
    if not losses:
        return "loss: waiting for the first step"
    avg = f" · running avg {avg_losses[-1]:.4f} (lower)" if avg_losses else ""
    return f"loss {losses[-1]:.4f} (upper){avg} · min {min(losses):.4f} · {len(losses)} steps"


class LossChart(Vertical):
    """Raw loss and its running average as two sparklines, bucketed by mean."""

    DEFAULT_CSS = """
    LossChart { height: auto; }
    LossChart Sparkline { height: 3; margin: 0 0 0 0; }
    LossChart #loss-avg { height: 2; }
    LossChart > Sparkline > .sparkline--max-color { color: $error; }
    LossChart > Sparkline > .sparkline--min-color { color: $success; }
    LossChart #loss-summary { color: $text-muted; width: 1fr; height: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Label(loss_summary([], []), id="loss-summary")
        yield Sparkline([], summary_function=fmean, id="loss-raw")
        yield Sparkline([], summary_function=fmean, id="loss-avg")

    def show(self, losses: Sequence[float], avg_losses: Sequence[float]) -> None:
        """Replace the data (a new list each time, so the reactive notices); no relayout."""
        self.query_one("#loss-summary", Label).update(loss_summary(losses, avg_losses), layout=False)
        self.query_one("#loss-raw", Sparkline).data = list(losses)
        self.query_one("#loss-avg", Sparkline).data = list(avg_losses)
