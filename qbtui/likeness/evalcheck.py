"""Check an eval.json before anything uses it: every field typed, as events are (qbtui.events).

The file is written by the evaluation pass, but it lies in a run folder anyone can edit (or a
host's copy): `cells: [5]`, `likeness: "abc"` or `weight: null` must be a clear error naming
the field, never an AttributeError in `qbtui eval --show` or the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qbtui.events import is_finite_number
from qbtui.filenames import bare_name_problem

Check = tuple[Callable[[Any], bool], str]
MAX_REPR = 60


class EvaluationFileError(ValueError):
    """An eval.json whose content is not what the evaluation pass writes."""


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_integer(value) and value >= 0


def _or_null(check: Check) -> Check:
    test, what = check
    return (lambda value: value is None or test(value)), f"{what} or null"


TEXT: Check = (_is_text, "text")
PATH: Check = (lambda value: _is_text(value) and value != "" and "\0" not in value, "a file path")
INTEGER: Check = (_is_integer, "an integer")
COUNT: Check = (_is_count, "a non-negative integer")
NUMBER: Check = (is_finite_number, "a finite number")
FLAG: Check = (lambda value: isinstance(value, bool), "true or false")
TEXTS: Check = (lambda value: isinstance(value, list) and all(map(_is_text, value)), "a list of texts")
TABLE: Check = (lambda value: isinstance(value, dict), "a JSON object")
LIST: Check = (lambda value: isinstance(value, list), "a list")
LORA_NAME: Check = (
    lambda value: _is_text(value) and (value == "" or bare_name_problem(value) is None),
    "a LoRA file name in the LoRA folder (no folder in it), or empty for the base model",
)
CHOSEN: Check = (
    lambda value: value is None or (isinstance(value, dict) and _is_text(value.get("key"))),
    "null or a cell with its key",
)

# name -> (check, required)
EVALUATION_FIELDS: dict[str, tuple[Check, bool]] = {
    "run_id": (TEXT, True),
    "friend_id": (TEXT, True),
    "cells": (LIST, True),
    "chosen": (CHOSEN, False),
    "reason": (TEXT, False),
    "warnings": (TEXTS, False),
    "references": (COUNT, False),
    "photos": (COUNT, False),
    "settings": (TABLE, False),
    "complete": (FLAG, False),
    "created_at": (NUMBER, False),
    "version": (COUNT, False),
}
CELL_FIELDS: dict[str, tuple[Check, bool]] = {
    "label": (TEXT, True),
    "step": (_or_null(COUNT), True),
    "lora": (LORA_NAME, True),
    "weight": (NUMBER, True),
    "face_rate": (NUMBER, True),
    "style_face_rate": (_or_null(NUMBER), True),
    "likeness": (_or_null(NUMBER), True),
    "match_rate": (_or_null(NUMBER), True),
    "collapse": (_or_null(NUMBER), True),
    "samples": (LIST, False),
    "key": (TEXT, False),
}
SAMPLE_FIELDS: dict[str, tuple[Check, bool]] = {
    "path": (PATH, True),
    "prompt": (TEXT, True),
    "kind": (TEXT, True),
    "seed": (INTEGER, True),
    "faces": (COUNT, True),
    "distance": (_or_null(NUMBER), True),
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."


def _check(where: str, value: Any, fields: dict[str, tuple[Check, bool]]) -> None:
    if not isinstance(value, dict):
        raise EvaluationFileError(f"{where} must be a JSON object, not {_short(value)}")
    for name, ((test, what), required) in fields.items():
        if name not in value:
            if required:
                raise EvaluationFileError(f"{where} has no {name}")
            continue
        if not test(value[name]):
            raise EvaluationFileError(f"{where}: {name} must be {what}, not {_short(value[name])}")


def validate_evaluation(data: Any) -> None:
    """Raise EvaluationFileError naming the first field of `data` (a parsed eval.json) that has the wrong type."""
    _check("the evaluation", data, EVALUATION_FIELDS)
    for index, cell in enumerate(data["cells"]):
        validate_cell(cell, f"cells[{index}]")


def validate_cell(cell: Any, where: str = "the cell") -> None:
    """Raise EvaluationFileError naming the first mistyped field of one cell (with its samples)."""
    _check(where, cell, CELL_FIELDS)
    for number, sample in enumerate(cell.get("samples", [])):
        _check(f"{where}.samples[{number}]", sample, SAMPLE_FIELDS)
