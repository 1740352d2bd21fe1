"""`eval.json`: one evaluation's scores and choice, and the table `qbtui logs` and `qbtui eval` print."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError
from qbtui.likeness.evalcheck import CELL_FIELDS, SAMPLE_FIELDS, validate_evaluation
from qbtui.likeness.scoring import SAME_PERSON, CellScore, Choice, SampleScore
from qbtui.safefile import read_text

VERSION = 1


@dataclass(frozen=True)
class Evaluation:
    """The result of one pass over a training run's LoRA files."""

    run_id: str
    friend_id: str
    cells: tuple[CellScore, ...]
    chosen: CellScore | None
    reason: str
    warnings: tuple[str, ...] = ()
    references: int = 0  # the friend's photos with exactly one face
    photos: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    complete: bool = True
    created_at: float = field(default_factory=time.time)

    @classmethod
    def from_choice(cls, run_id: str, friend_id: str, cells: list[CellScore], choice: Choice, **extra: Any) -> Evaluation:
        return cls(run_id, friend_id, tuple(cells), choice.cell, choice.reason, choice.warnings, **extra)

    @property
    def scores(self) -> dict[str, float]:
        """Likeness per cell (`800@0.8`), for the registry's training row."""
        return {cell.key: cell.likeness for cell in self.cells if cell.likeness is not None}

    def cell(self, label: str, weight: float) -> CellScore | None:
        return next((cell for cell in self.cells if cell.label == label and cell.weight == weight), None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = VERSION
        data["chosen"] = _choice_json(self.chosen)
        for row, cell in zip(data["cells"], self.cells, strict=True):
            row["key"] = cell.key
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        """The evaluation a parsed eval.json (or `result` event) holds; EvaluationFileError naming a mistyped field."""
        validate_evaluation(data)
        cells = tuple(cell_from_json(row) for row in data["cells"])
        chosen = data.get("chosen")
        chosen_cell = next((cell for cell in cells if chosen and cell.key == chosen["key"]), None)
        values = {key: data[key] for key in ("references", "photos", "settings", "complete", "created_at") if key in data}
        return cls(
            run_id=data["run_id"],
            friend_id=data["friend_id"],
            cells=cells,
            chosen=chosen_cell,
            reason=data.get("reason", ""),
            warnings=tuple(data.get("warnings", ())),
            **values,
        )

    def with_choice(self, cell: CellScore | None, reason: str) -> Evaluation:
        """The same scores with another choice (a person's pick in the compare view)."""
        from dataclasses import replace

        return replace(self, chosen=cell, reason=reason)


def _choice_json(cell: CellScore | None) -> dict[str, Any] | None:
    if cell is None:
        return None
    return {
        "key": cell.key,
        "label": cell.label,
        "step": cell.step,
        "lora": cell.lora,
        "weight": cell.weight,
        "likeness": cell.likeness,
    }


def cell_from_json(row: dict[str, Any]) -> CellScore:
    samples = tuple(SampleScore(**{name: sample[name] for name in SAMPLE_FIELDS}) for sample in row.get("samples", ()))
    values = {key: value for key, value in row.items() if key in CELL_FIELDS and key not in ("key", "samples")}
    return CellScore(**{**values, "samples": samples})


def write_evaluation(path: Path, evaluation: Evaluation) -> None:
    write_text_atomic(path, json.dumps(evaluation.to_json(), indent=2) + "\n")


def read_evaluation(path: Path) -> Evaluation | None:
    """The evaluation stored at `path`, None when there is none; QbtuiError when it is unreadable."""
    try:
        data = json.loads(read_text(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise QbtuiError(f"cannot read the evaluation: {error}", path=path, fix="run it again with `qbtui eval RUN`") from None
    try:
        return Evaluation.from_json(data)
    except (KeyError, TypeError, ValueError) as error:
        raise QbtuiError(
            f"the evaluation file is malformed: {error}",
            path=path,
            fix=f"run the evaluation again: `qbtui eval {path.parent.name}` rewrites it",
        ) from None


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _distance(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def cell_summary(cell: CellScore) -> str:
    """`0.412 · 100% faces`: the score a thumbnail shows under it."""
    if cell.likeness is None:
        return f"no match · {_rate(cell.face_rate)} faces" if cell.faces else "no faces"
    return f"{cell.likeness:.3f} · {_rate(cell.face_rate)} faces"


def choice_line(evaluation: Evaluation) -> str:
    chosen = evaluation.chosen
    if chosen is None:
        return f"choice: none ({evaluation.reason})"
    return f"choice: {chosen.label} at weight {chosen.weight:g} ({chosen.lora}): {evaluation.reason}"


def evaluation_table(evaluation: Evaluation) -> list[str]:
    """The scores as text lines, 80 columns wide, the choice marked with `*`."""
    header = ("", "LORA", "WEIGHT", "FACES", "LIKENESS", "MATCH", "STYLE FACES", "COLLAPSE")
    rows = [header]
    for cell in evaluation.cells:
        rows.append(
            (
                "*" if evaluation.chosen is not None and cell.key == evaluation.chosen.key else "",
                cell.label,
                f"{cell.weight:g}",
                _rate(cell.face_rate),
                _distance(cell.likeness),
                _rate(cell.match_rate),
                _rate(cell.style_face_rate),
                "yes" if cell.collapsed else ("-" if cell.collapse is None else "no"),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        f"likeness of {evaluation.friend_id}, run {evaluation.run_id}: median face distance to "
        f"{evaluation.references} of {evaluation.photos} photos (lower is more alike, same person under {SAME_PERSON})"
    ]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append(choice_line(evaluation))
    lines += [f"warning: {warning}" for warning in evaluation.warnings]
    if not evaluation.complete:
        lines.append("warning: the evaluation was stopped before every sample was drawn")
    return lines


def format_eval_event(event: dict[str, Any]) -> str:
    """One `eval` event as `qbtui logs` shows it ("" for one it leaves out); the result is the whole table."""
    stage = event["stage"]
    if stage == "plan":
        return (
            f"evaluation: {len(event.get('loras', []))} LoRA files x {len(event.get('weights', []))} weights and the base model, "
            f"{event.get('images', '?')} images at {event.get('steps', '?')} steps; "
            f"{event.get('references', '?')} of {event.get('photos', '?')} photos show one face"
        )
    if stage == "sample":
        return f"eval sample {event.get('done')}/{event.get('total')}: {event.get('lora')} @ {event.get('weight')}, {event.get('faces')} face(s)"
    if stage == "cell":
        return (
            f"eval {event.get('key')}: faces {_rate(event.get('face_rate'))}, likeness {_distance(event.get('likeness'))}, "
            f"match {_rate(event.get('match_rate'))}"
        )
    if stage == "scoring":  # its start is a line; each sample's progress is for the run's phase, not the log
        return (
            "" if event.get("done") else f"scoring likeness at step {event.get('step', '?')}: {event.get('total', '?')} samples"
        )
    if stage == "checkpoint":
        from qbtui.likeness.live import checkpoint_line

        cells = [(float(weight), likeness) for weight, likeness in event.get("scores", [])]
        return checkpoint_line(event.get("step", 0), cells, event.get("base"))
    if stage == "chosen":  # at `done` and after each final cell: the choice the registry row now holds
        from qbtui.likeness.standing import StandingChoice

        return StandingChoice.from_event(event).words
    if stage == "started":
        run_id = event.get("run_id", "?")
        return f"evaluation started as run {run_id}: `qbtui logs {run_id} -f` follows it, `qbtui eval {run_id} --json` gives the scores"
    if stage == "skipped":
        return f"{event.get('message', '')}" + (f" (fix: {event['fix']})" if event.get("fix") else "")
    try:
        evaluation = Evaluation.from_json(event)
    except (KeyError, TypeError, ValueError):
        return f"evaluation result: {event.get('reason', '?')}"
    return "evaluation result:\n" + "\n".join(f"  {line}" for line in evaluation_table(evaluation))
