"""Likeness while training: the face engine and the friend's photos, made ready once at the start.

When either is missing (the face engine not installed; photos that show no face, such as
the demo's drawings) the run says so in one `eval skipped` event naming the fix and draws
no identity samples at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.events import EventWriter
from qbtui.likeness.faces import friend_references
from qbtui.trainer.config import TrainConfig

NOT_MEASURED = "likeness not measured"


@dataclass
class LikenessWatch:
    """What scoring needs from the start of a run: the face model and the friend's face descriptors."""

    detector: Any
    references: list[tuple[float, ...]]
    photos: int


def start_watch(config: TrainConfig, events: EventWriter) -> LikenessWatch | None:
    """The run's watch, or None (after one `skipped` event saying why and the fix) when likeness cannot be measured."""
    if not config.evaluate_after_training:
        return None
    from qbtui.trainer.evaluate import load_detector

    try:
        detector = load_detector()
        references, photos = friend_references(detector, Path(config.train_data_dir), config.friend_id)
    except QbtuiError as error:
        events.write("eval", stage="skipped", message=f"{NOT_MEASURED}: {error.message}", fix=error.fix or "")
        return None
    return LikenessWatch(detector, references, photos)
