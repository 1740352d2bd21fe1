"""The evaluation's choice in the registry's training row (the supervisor writes it, under the lock)."""

from __future__ import annotations

from qbtui.likeness.report import Evaluation
from qbtui.likeness.scoring import IDENTITY, CellScore
from qbtui.registry import Registry, Training

KEPT = "kept the earlier choice"


def record_evaluation(registry: Registry, friend_id: str, run_id: str, evaluation: Evaluation) -> bool:
    """Write the chosen file, weight, likeness and the scores table into `run_id`'s training row.

    Nothing chosen keeps an earlier choice (see `kept_choice`) and replaces only the scores. False
    when the friend has no training row for the run (it was never recorded as completed).
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


def kept_choice(evaluation: Evaluation, training: Training) -> Evaluation:
    """A pass that chose nothing, told with the earlier choice its training row keeps (`choice: final
    at weight 0.8 ...: kept the earlier choice; this pass chose none: no faces in the samples`)."""
    if evaluation.chosen is not None or not training.chosen_lora or training.chosen_weight is None:
        return evaluation
    cell = next(
        (
            cell
            for cell in evaluation.cells
            if not cell.baseline and cell.lora == training.chosen_lora and cell.weight == training.chosen_weight
        ),
        None,
    )
    earlier = f"{training.chosen_lora} at weight {training.chosen_weight:g}"
    reason = f"{KEPT} ({earlier}); this pass chose none: {evaluation.reason}"
    return evaluation.with_choice(cell, reason)
