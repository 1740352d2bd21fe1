"""The likeness evaluation's choice for a training (issue 14), read defensively from its registry row.

The evaluation writes the chosen weight, LoRA file and sample into the training row; until
those keys exist (or for trainings before it) every reader falls back to `settings.lora_weight`
and the training's own LoRA file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qbtui.registry import Friend, Settings, Training

CHOSEN_WEIGHT_KEYS = ("chosen_weight", "likeness_weight", "weight")
CHOSEN_FILE_KEYS = ("chosen_file", "chosen_lora", "chosen_checkpoint")
CHOSEN_SAMPLE_KEYS = ("chosen_sample", "likeness_sample")
LIKENESS_SCORE_KEYS = ("likeness", "likeness_score", "chosen_likeness")


def _training_value(training: Training | None, keys: Iterable[str]) -> Any:
    """The first of `keys` the training row has (as a field, or inside a `likeness` mapping)."""
    if training is None:
        return None
    nested = getattr(training, "likeness", None)
    for key in keys:
        value = getattr(training, key, None)
        if value is None and isinstance(nested, dict):
            value = nested.get(key)
        if value not in (None, ""):
            return value
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def chosen_weight(training: Training | None, settings: Settings) -> float:
    """The evaluation's weight where the row has one, else `settings.lora_weight`."""
    value = _number(_training_value(training, CHOSEN_WEIGHT_KEYS))
    return settings.lora_weight if value is None else value


def friend_weight(friend: Friend, settings: Settings) -> float:
    """The weight to draw or prompt a friend at: their last training's choice, else `lora_weight`."""
    return chosen_weight(friend.last_training, settings)


def likeness_score(training: Training | None) -> float | None:
    value = _training_value(training, LIKENESS_SCORE_KEYS)
    if isinstance(value, dict):
        value = value.get("likeness")
    return _number(value)


def _path_in(settings: Settings, value: Any) -> Path | None:
    if not isinstance(value, str):
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else settings.lora_dir / path


def chosen_sample(training: Training | None, settings: Settings) -> Path | None:
    """The evaluation's chosen sample image, if it chose one."""
    return _path_in(settings, _training_value(training, CHOSEN_SAMPLE_KEYS))


def lora_file(friend: Friend, settings: Settings) -> Path | None:
    """The LoRA file to use for a friend: the evaluation's chosen file, else their last training's; None if untrained."""
    training = friend.last_training
    if training is None:
        return None
    chosen = _path_in(settings, _training_value(training, CHOSEN_FILE_KEYS))
    return chosen or settings.lora_dir / (training.lora_file or f"{friend.output_name}.safetensors")
