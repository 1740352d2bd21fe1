"""The choice while the final file is scored: made at `done` from the checkpoints scored before it,
replaced when a final cell beats it (the README's rule, `qbtui.likeness.scoring.choose`).

The trainer writes one `eval chosen` event at `done` and one after each final cell, each after
`eval.json` holds that choice; the supervisor records it in the run's registry row at once, and
the run listings and screens show it (`StandingChoice.words`). Plain Python (no torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qbtui.events import is_finite_number
from qbtui.likeness.scoring import CellScore
from qbtui.printable import printable

CHOSEN = "chosen"  # the `eval` stage


def final_order(weights: Sequence[float], best: CellScore | None) -> list[float]:
    """The order the final file is scored in: the best weight so far first, else the middle sample weight
    (0.8 of the default 0.6, 0.8, 1.0: the weight a friend is drawn at by default), then the others."""
    if not weights:
        return []
    ordered = sorted(weights)
    first = best.weight if best is not None and best.weight in ordered else ordered[(len(ordered) - 1) // 2]
    return [first, *(weight for weight in ordered if weight != first)]


def chosen_fields(cell: CellScore | None, reason: str, pending: int) -> dict[str, Any]:
    """The fields of an `eval chosen` event: the choice so far and the final cells still to score."""
    fields: dict[str, Any] = {"stage": CHOSEN, "pending": pending, "reason": reason}
    if cell is not None:
        fields |= {
            "key": cell.key,
            "label": cell.label,
            "step": cell.step,
            "weight": cell.weight,
            "likeness": cell.likeness,
            "lora": cell.lora,
        }
    return fields


@dataclass(frozen=True)
class StandingChoice:
    """A run's choice as its last `eval chosen` event states it."""

    key: str | None  # `800@0.8`; None while nothing is chosen
    label: str
    step: int | None
    weight: float | None
    likeness: float | None
    pending: int  # final cells still to score
    reason: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> StandingChoice:
        key, label, step = event.get("key"), event.get("label"), event.get("step")
        weight, likeness, pending = event.get("weight"), event.get("likeness"), event.get("pending")
        return cls(
            key=key if isinstance(key, str) else None,
            label=label if isinstance(label, str) else "",
            step=step if isinstance(step, int) and not isinstance(step, bool) else None,
            weight=float(weight) if is_finite_number(weight) else None,
            likeness=float(likeness) if is_finite_number(likeness) else None,
            pending=pending if isinstance(pending, int) and not isinstance(pending, bool) and pending > 0 else 0,
            reason=printable(str(event.get("reason") or "")),
        )

    @property
    def words(self) -> str:
        """`chosen: step 800 · 0.8 · likeness 0.41, final step being scored` (standing while `pending`), or
        `no choice yet, final step being scored` / `no choice: no faces in the samples`."""
        scoring = ", final step being scored" if self.pending else ""
        if self.key is None or self.weight is None:
            return f"no choice yet{scoring}" if self.pending else f"no choice: {self.reason or 'nothing chosen'}"
        where = "final step" if self.label == "final" else f"step {self.step if self.step is not None else self.label}"
        likeness = "" if self.likeness is None else f" · likeness {self.likeness:.2f}"
        return f"chosen: {where} · {self.weight:g}{likeness}{scoring}"
