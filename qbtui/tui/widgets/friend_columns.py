"""Which columns of the friends table show, and how wide, for the room there is.

The columns that matter (name, ready, the training state with its ETA) are never cut: when
the room runs short the table first elides long names, then drops the caption count, then
takes the training column's shorter wording (the state and ETA stay, the sparkline or
the date goes), then drops the image count, the token and the problem count, and last
elides the names further. Pure: widths in, widths out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len

# Each column is drawn with one blank cell either side (DataTable's cell_padding).
PADDING = 2
FIXED = {"images": 4, "captions": 4, "problems": 5, "ready": 5}
# Room for the Training column's longest texts (`trained 2026-12-01 · 1200 steps`) while there is room.
TRAINING_ROOM = 32
NAME_SOFT_MIN = 10
NAME_MIN = 5
TOKEN_MAX = 24
# Dropped in this order when even the short wordings do not fit.
DROPPED_LAST = ("images", "token", "problems")


@dataclass(frozen=True)
class ColumnNeeds:
    """What the rows ask for: the longest name and token, the longest full and short training text."""

    name: int
    token: int
    training_full: int
    training_short: int


def needs_of(names: Sequence[str], tokens: Sequence[str], training: Sequence[tuple[int, int]]) -> ColumnNeeds:
    """The needs of a table's rows; `training` holds each row's (full, short) training text length."""
    return ColumnNeeds(
        name=max([len("Name"), *map(cell_len, names)]),
        token=min(TOKEN_MAX, max([len("Token"), *map(cell_len, tokens)])),
        training_full=max([TRAINING_ROOM, *(full for full, _ in training)]),
        training_short=max([len("Training"), *(short for _, short in training)]),
    )


def full_width(needs: ColumnNeeds) -> int:
    """The table's width with every column at its full width."""
    widths = {"name": needs.name, "token": needs.token, **FIXED, "training": needs.training_full}
    return sum(widths.values()) + PADDING * len(widths)


def plan_columns(room: int, needs: ColumnNeeds) -> dict[str, int]:
    """The shown columns (in table order) and their widths, fitting `room` cells where it can."""
    widths = {"name": needs.name, "token": needs.token, **FIXED, "training": needs.training_full}

    def excess() -> int:
        return sum(widths.values()) + PADDING * len(widths) - room

    def shrink(key: str, floor: int) -> None:
        widths[key] = max(floor, widths[key] - max(0, excess()))

    shrink("name", min(needs.name, NAME_SOFT_MIN))
    if excess() > 0:
        del widths["captions"]
    shrink("training", needs.training_short)
    for key in DROPPED_LAST:
        if excess() > 0:
            del widths[key]
    shrink("name", min(needs.name, NAME_MIN))
    # Room freed by a dropped column goes back to the training texts, then to the names.
    for key, full in (("training", needs.training_full), ("name", needs.name)):
        widths[key] = min(full, widths[key] + max(0, -excess()))
    order = ("name", "token", "images", "captions", "problems", "ready", "training")
    return {key: widths[key] for key in order if key in widths}
