"""Likeness while training: the `likeness` events of each checkpoint, their line in the log, the
figures the screens show (per step and weight, the base level, the best so far), and the rule
that ends a run early once it looks like the friend.

Plain Python over events (no torch): the trainer writes them (`qbtui.trainer.watch`), the run
listings and the Training screen fold them with `LikenessTrack`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qbtui.likeness.scoring import IDENTITY, LIKENESS_TIE, SAME_PERSON, CellScore, Choice

# Stop early after this many checkpoints without a better likeness (two checkpoints: at the
# presets' 400 steps, 800 steps without a gain is a plateau, not noise) ...
STOP_EARLY_PATIENCE = 2
# ... by more than this margin: dlib's distances wobble by about LIKENESS_TIE between seeds.
STOP_EARLY_MARGIN = LIKENESS_TIE


def likeness_fields(cell: CellScore, best: Choice) -> dict[str, Any]:
    """The fields of one `likeness` event: the cell's scores, its identity samples, the best cell so far."""
    chosen = best.cell
    return {
        "step": cell.step or 0,
        "weight": cell.weight,
        "label": cell.label,
        "likeness": cell.likeness,
        "face_rate": cell.face_rate,
        "match_rate": cell.match_rate,
        "collapse": cell.collapse,
        "samples": [sample.path for sample in cell.samples if sample.kind == IDENTITY],
        "best": chosen.key if chosen else None,
        "best_likeness": chosen.likeness if chosen else None,
        "best_sample": best_sample(chosen) if chosen else None,
    }


def best_sample(cell: CellScore) -> str | None:
    """The cell's identity sample nearest the friend (the picture of the best so far)."""
    matched = [(sample.distance, sample.path) for sample in cell.samples if sample.distance is not None]
    return min(matched)[1] if matched else None


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _weight(weight: float) -> str:
    """`0.6`, `1.0`, `0.75`: a LoRA weight as the sample weights are written."""
    text = f"{weight:g}"
    return text if "." in text else f"{text}.0"


def checkpoint_line(step: int, cells: Sequence[tuple[float, float | None]], base: float | None) -> str:
    """`likeness @800: 0.6 0.44 · 0.8 0.41 · 1.0 0.47 (base 0.78)`: each weight's likeness, lower is more alike."""
    scores = " · ".join(f"{_weight(weight)} {_score(likeness)}" for weight, likeness in cells)
    return f"likeness @{step}: {scores} (base {_score(base)})"


@dataclass
class LikenessTrack:
    """The `likeness` events of a run folded into what the screens show."""

    base: float | None = None
    by_weight: dict[float, list[tuple[int, float]]] = field(default_factory=dict)  # weight -> (step, likeness)
    best: str | None = None  # the best cell's key (`800@0.8`)
    best_likeness: float | None = None
    best_sample: str | None = None
    checkpoints: int = 0
    last_step: int | None = None

    def apply(self, event: dict[str, Any]) -> None:
        likeness = event.get("likeness")
        weight = float(event["weight"])
        if weight == 0:
            self.base = likeness
            return
        if event["step"] != self.last_step:
            self.checkpoints += 1
            self.last_step = event["step"]
        if likeness is not None:
            self.by_weight.setdefault(weight, []).append((int(event["step"]), float(likeness)))
        self.best, self.best_likeness, self.best_sample = event.get("best"), event.get("best_likeness"), event.get("best_sample")

    @property
    def best_words(self) -> str | None:
        """`best 0.41 (800@0.8)`, None before a cell drew faces often enough."""
        if self.best is None or self.best_likeness is None:
            return None
        return f"best {self.best_likeness:.2f} ({self.best})"


def stop_early_reason(
    bests: Sequence[float | None],
    *,
    patience: int = STOP_EARLY_PATIENCE,
    margin: float = STOP_EARLY_MARGIN,
    threshold: float = SAME_PERSON,
) -> str | None:
    """Why the run may end now, else None. `bests`: the best likeness so far after each checkpoint (None while
    no cell draws faces often enough). Ends when the best is under the same-person threshold and is not
    better by more than `margin` than `patience` checkpoints ago; never without faces."""
    if len(bests) <= patience or bests[-1] is None:
        return None
    best, before = bests[-1], bests[-1 - patience]
    if best >= threshold or before is None or before - best > margin:
        return None
    return f"likeness {best:.2f}, no better for {patience} checkpoint{'s' if patience > 1 else ''}"
