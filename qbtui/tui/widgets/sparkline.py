"""A one-line sparkline in block characters, for tables (no chart library needed)."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

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
