"""The likeness evaluation's choice for a training, as its registry row and its run's eval.json keep it.

The row's `chosen_lora`, `chosen_weight` and `likeness` (issue 14) decide the file and weight
a friend is drawn and carded with; a training without a choice falls back to its own LoRA file
and `settings.lora_weight`. The chosen sample (a card's picture) is read from the run's
`eval.json`: the chosen cell's house-style sample, else its closest likeness.
"""

from __future__ import annotations

from pathlib import Path

from qbtui.prompt import friend_weight as prompt_weight
from qbtui.registry import Friend, Settings, Training
from qbtui.rundir import RunDir, read_run_toml


def has_choice(training: Training | None) -> bool:
    """True when the evaluation chose a file and a weight for this training."""
    return training is not None and bool(training.chosen_lora) and training.chosen_weight is not None


def chosen_weight(training: Training | None, settings: Settings) -> float:
    """The evaluation's weight where the row has one, else `settings.lora_weight`."""
    if training is not None and training.chosen_weight is not None:
        return float(training.chosen_weight)
    return settings.lora_weight


def friend_weight(friend: Friend, settings: Settings) -> float:
    """The weight to draw a friend at: their latest training's choice, else `lora_weight` (as `qbtui prompt`)."""
    return prompt_weight(friend, settings.lora_weight)


def likeness_score(training: Training | None) -> float | None:
    return training.likeness if training is not None else None


def chosen_sample(friend: Friend, training: Training | None, settings: Settings) -> Path | None:
    """The sample image of the evaluation's chosen file and weight, if the run's eval.json has one."""
    if not has_choice(training) or not training or not training.run_id:
        return None
    evaluation = _run_evaluation(friend, training, settings)
    if evaluation is None or evaluation.chosen is None or not evaluation.chosen.samples:
        return None
    return _standing_sample(evaluation.chosen.samples, _run_dir(friend, training, settings))


def is_chosen_file(training: Training | None, lora_path: Path) -> bool:
    """True when `lora_path` is the file the evaluation (or the person in the compare view) chose."""
    return has_choice(training) and training is not None and Path(training.chosen_lora).name == lora_path.name


def evaluation_sample(
    friend: Friend, training: Training | None, settings: Settings, lora_name: str, weight: float
) -> Path | None:
    """The evaluation's sample of the LoRA file `lora_name` at the weight nearest `weight`, if it drew one."""
    if training is None or not training.run_id:
        return None
    evaluation = _run_evaluation(friend, training, settings)
    cells = [cell for cell in evaluation.cells if cell.lora == lora_name and cell.samples] if evaluation else []
    if not cells:
        return None
    return _standing_sample(min(cells, key=lambda cell: abs(cell.weight - weight)).samples, _run_dir(friend, training, settings))


def _run_evaluation(friend: Friend, training: Training, settings: Settings):
    """The training run's eval.json, None when it has none or it cannot be read."""
    from qbtui.errors import QbtuiError
    from qbtui.likeness.report import read_evaluation

    try:
        return read_evaluation(_run_dir(friend, training, settings).eval_json)
    except QbtuiError:
        return None


def _run_dir(friend: Friend, training: Training, settings: Settings) -> RunDir:
    return RunDir(settings.logs_dir / friend.id / training.run_id)


def _standing_sample(samples, run: RunDir) -> Path | None:
    """The picture that stands for a cell: its house-style sample, else its closest likeness; None when it lies
    outside the run (`sample_inside_run`)."""
    style = [sample for sample in samples if sample.kind == "style"]
    scored = sorted((sample for sample in samples if sample.distance is not None), key=lambda sample: sample.distance or 0.0)
    best = (style or scored or list(samples))[0]
    return Path(best.path) if sample_inside_run(run, Path(best.path)) else None


def sample_inside_run(run: RunDir, path: Path) -> bool:
    """True when `path`, links resolved, lies in the run's folder or its sample folder (`<output_dir>/sample`):
    an eval.json naming any other picture cannot have it published as a card's preview."""
    from qbtui.errors import QbtuiError

    folders = [run.path]
    try:
        output_dir = read_run_toml(run)["run"].get("output_dir")
    except QbtuiError:
        output_dir = None
    if isinstance(output_dir, str) and output_dir:
        folders.append(Path(output_dir) / "sample")
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return any(resolved.is_relative_to(folder.resolve()) for folder in folders)


def lora_file(friend: Friend, settings: Settings) -> Path | None:
    """The LoRA file to draw a friend with: the evaluation's chosen file, else their latest training's; None if untrained."""
    training = friend.last_training
    if training is None:
        return None
    if has_choice(training):
        chosen = Path(training.chosen_lora).expanduser()
        return chosen if chosen.is_absolute() else settings.lora_dir / chosen
    return settings.lora_dir / (training.lora_file or f"{friend.output_name}.safetensors")
