"""The evaluation's choice in the registry's training row (the supervisor writes it, under the lock)."""

from __future__ import annotations

from qbtui.likeness.report import Evaluation
from qbtui.likeness.scoring import IDENTITY, CellScore
from qbtui.registry import Registry


def record_evaluation(registry: Registry, friend_id: str, run_id: str, evaluation: Evaluation) -> bool:
    """Write the chosen file, weight, likeness and the scores table into `run_id`'s training row.

    Nothing chosen removes an earlier choice (the global lora_weight applies again). False when
    the friend has no training row for the run (it was never recorded as completed).
    """
    chosen = evaluation.chosen
    return registry.record_choice(
        friend_id,
        run_id,
        chosen_lora=chosen.lora if chosen else "",
        chosen_weight=chosen.weight if chosen else None,
        likeness=chosen.likeness if chosen else None,
        scores=evaluation.scores,
        chosen_sample=chosen_sample(chosen) if chosen else "",
    )


def chosen_sample(cell: CellScore) -> str:
    """The chosen cell's best-matching identity sample (the picture a card shows), else its first sample."""
    identity = [sample for sample in cell.samples if sample.kind == IDENTITY]
    matched = [(sample.distance, sample.path) for sample in identity if sample.distance is not None]
    if matched:
        return min(matched)[1]
    return (identity or list(cell.samples))[0].path if cell.samples else ""
