"""Evaluation runs: `qbtui eval RUN` samples a finished run's LoRA files as a run of its own.

The evaluation run has its own directory, events and supervisor (backend `eval`, command
`python -m qbtui.trainer.evaluate RUN_DIR`), so `qbtui runs` lists it, `qbtui logs -f`
follows it and `qbtui stop` stops it. Its plan (`[train]` of its run.toml) names the
training run it scores; the scores land in that run's `eval.json`, and the supervisor
writes the choice into that run's registry row.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.events import read_events
from qbtui.likeness.plan import EvalPlan, check_weights, identity_prompts, plan_inputs, style_prompt
from qbtui.likeness.report import Evaluation, read_evaluation
from qbtui.registry import Registry, friend_root
from qbtui.rundir import RunDir, new_run_id, read_run_toml
from qbtui.runs.info import RunInfo
from qbtui.runs.manager import DeviceBusy, RunPlan, find_run, submit_run
from qbtui.trainer.config import SAMPLE_WEIGHTS, parse_resolution

EVAL_BACKEND = "eval"


def evaluation_command(run_path: Path | str) -> list[str]:
    return [sys.executable, "-m", "qbtui.trainer.evaluate", str(run_path)]


def evaluated_run(run: RunDir) -> RunDir:
    """The training run an evaluation run scores; any other run is its own."""
    table = read_run_toml(run)
    if table["run"].get("backend") != EVAL_BACKEND:
        return run
    return RunDir(Path(table["train"]["run_dir"]))


def read_run_evaluation(run_path: Path) -> Evaluation | None:
    """The stored evaluation of a training run (or of the run an evaluation run scored)."""
    run = evaluated_run(RunDir(Path(run_path)))
    return read_evaluation(run.eval_json)


def plan_evaluation(
    registry: Registry, info: RunInfo, *, weights: Sequence[float] | None = None, seeds: int | None = None
) -> EvalPlan:
    """What `qbtui eval` samples for a finished training run; QbtuiError when there is nothing to score."""
    settings = registry.settings
    run = RunDir(info.path)
    if info.backend == EVAL_BACKEND:
        run = evaluated_run(run)
    table = read_run_toml(run)
    friend = registry.friend(str(table["run"].get("friend", run.friend_id)))
    train = table["train"]
    if info.backend != EVAL_BACKEND and info.live:
        raise QbtuiError(f"run {info.run_id} is still {info.state}", path=info.path, fix="evaluate it once it has ended")
    events = read_events(run.events)
    final = _final_file(run, events)
    style = style_prompt(settings, friend.token)
    loras, reused = plan_inputs(events, final=final, style_prompt=style)
    if not loras:
        raise QbtuiError(
            f"run {run.run_id} left no LoRA file to evaluate",
            path=Path(str(table["run"].get("output_dir", settings.lora_dir))),
            fix="evaluate a run that saved checkpoints or finished (`qbtui runs` lists them)",
        )
    if seeds is not None and not 1 <= seeds <= 16:
        raise QbtuiError(f"--seeds {seeds} is out of range", fix="use 1 to 16 seeds per prompt")
    size = min(parse_resolution(str(train.get("resolution", "512,512"))))
    return EvalPlan(
        run_id=run.run_id,
        run_dir=run.path,
        friend_id=friend.id,
        token=friend.token,
        loras=loras,
        weights=check_weights(weights or train.get("sample_weights") or SAMPLE_WEIGHTS),
        identity_prompts=identity_prompts(settings, friend.token),
        style_prompt=style,
        reference_dir=friend_root(settings, friend),
        seeds=seeds or settings.eval_seeds,
        seed=settings.eval_seed,
        steps=settings.eval_steps,
        size=size,
        min_face_rate=settings.eval_min_face_rate,
        base_model=Path(str(train.get("pretrained_model_name_or_path") or settings.base_model)),
        tokenizer=Path(str(train["tokenizer"])) if train.get("tokenizer") else settings.tokenizer,
        tokenizer_cache_dir=_setting_path(train, "tokenizer_cache_dir", settings.tokenizer_cache_dir),
        comfyui_dir=_setting_path(train, "comfyui_dir", settings.comfyui_dir),
        device=settings.device,
        reused=reused,
    )


def _setting_path(train: dict[str, Any], key: str, default: Path | None) -> Path | None:
    """A path the run's [train] table recorded, else the setting's."""
    return Path(str(train[key])) if train.get(key) else default


def _final_file(run: RunDir, events: list[dict[str, Any]]) -> tuple[int, Path] | None:
    """The step and file of the run's completed LoRA, when it finished and the file is there."""
    step = 0
    final = None
    for event in events:
        if event["type"] == "step" and isinstance(event.get("step"), int):
            step = event["step"]
        elif event["type"] == "done" and event.get("status") == "completed" and event.get("lora_path"):
            final = Path(event["lora_path"])
    return (step, final) if final is not None and final.is_file() else None


def start_evaluation(
    registry: Registry,
    target: str,
    *,
    weights: Sequence[float] | None = None,
    seeds: int | None = None,
    queue: bool = False,
) -> RunInfo:
    """Plan and start (detached) an evaluation run of `target` (a run id or a friend's latest run);
    `queue` puts it behind a run using the device instead of refusing."""
    registry.reload_if_changed()
    settings = registry.settings
    info = find_run(settings, target)
    running = evaluation_status(info.path).running
    if running is not None:
        raise QbtuiError(
            f"the likeness pass of run {info.run_id} is running: {running.progress_words}",
            fix=f"wait for it: `qbtui logs {running.run_id} -f` follows it, `qbtui eval {info.run_id} --show` shows its scores",
        )
    plan = plan_evaluation(registry, info, weights=weights, seeds=seeds)
    if not plan.base_model or not plan.base_model.exists():
        raise _missing_base_model(info.run_id, plan.base_model, settings.base_model)
    run_id = new_run_id(plan.friend_id)
    run_plan = RunPlan(
        run_id=run_id,
        friend_id=plan.friend_id,
        backend=EVAL_BACKEND,
        preset=EVAL_BACKEND,
        command=evaluation_command(settings.logs_dir / plan.friend_id / run_id),
        train=plan.to_table(),
        max_steps=plan.image_count(),
        images=plan.image_count(),
        fingerprint="",
        output_dir=settings.lora_dir,
        output_name=registry.friend(plan.friend_id).output_name,
        registry=registry.path,
    )
    try:
        return submit_run(settings, run_plan, queue=queue)
    except DeviceBusy as busy:
        raise QbtuiError(
            busy.message,
            fix=f"wait for run {busy.busy.run_id} to end (`qbtui logs {busy.busy.run_id} -f` follows it), "
            f"then `qbtui eval {info.run_id}`; or stop it first (`qbtui stop {busy.busy.run_id}`)",
        ) from None


def _missing_base_model(run_id: str, recorded: Path | None, current: Path) -> QbtuiError:
    """The error for a run whose base model (the one it trained on, recorded in its run.toml) is gone."""
    if recorded is None or recorded == current:
        return QbtuiError(
            "the base model is missing", path=recorded, fix="set base_model in registry.toml [settings] to your SD 1.5 model"
        )
    moved = f"if the model moved to registry.toml's base_model ({current}), " if current.exists() else "if it moved, "
    return QbtuiError(
        f"run {run_id} was trained on this base model, and it is missing (the likeness pass draws with the run's own model)",
        path=recorded,
        fix=f"{moved}put it back at this path or link it there (`ln -s NEW_PATH {recorded}`), then `qbtui eval {run_id}` again",
    )


def record_run_evaluation(registry: Registry, run: RunDir) -> str:
    """The choice of a training run's eval.json (or of the run an evaluation run scored) into its registry row; the friend id."""
    from qbtui.likeness.record import record_evaluation

    target = evaluated_run(run)
    evaluation = read_evaluation(target.eval_json)
    if evaluation is None:
        raise QbtuiError("the evaluation wrote no eval.json", path=target.path, fix=f"run `qbtui eval {target.run_id}` again")
    if not record_evaluation(registry, evaluation.friend_id, evaluation.run_id, evaluation):
        raise QbtuiError(
            f"run {evaluation.run_id} has no training row for its likeness choice",
            path=registry.path,
            fix=f"record the training first (`qbtui record {evaluation.run_id}`), then `qbtui eval {evaluation.run_id}`",
        )
    if evaluation.chosen is None:
        _tell_kept_choice(registry, target, evaluation)
    return evaluation.friend_id


def _tell_kept_choice(registry: Registry, target: RunDir, evaluation: Evaluation) -> None:
    """A pass that chose nothing leaves the row's earlier choice: its eval.json says so (and marks that cell)."""
    from qbtui.likeness.record import kept_choice
    from qbtui.likeness.report import write_evaluation

    fresh = Registry.load(registry.path)
    row = next((row for row in fresh.friend(evaluation.friend_id).trainings if row.run_id == evaluation.run_id), None)
    told = kept_choice(evaluation, row) if row is not None else evaluation
    if told is not evaluation:
        write_evaluation(target.eval_json, told)


PICKED = "picked by hand in the compare view"


def pick_choice(registry: Registry, run_path: Path | str, key: str) -> Evaluation:
    """Make the cell `key` (`800@0.8`) the run's choice: its registry row first, then its eval.json."""
    from qbtui.likeness.record import record_evaluation
    from qbtui.likeness.report import write_evaluation

    run = evaluated_run(RunDir(Path(run_path)))
    evaluation = read_evaluation(run.eval_json)
    if evaluation is None:
        raise QbtuiError("this run has not been evaluated yet", path=run.path, fix="run `qbtui eval RUN` first")
    cell = next((cell for cell in evaluation.cells if cell.key == key and not cell.baseline), None)
    if cell is None:
        raise QbtuiError(f"{key} is not a LoRA file and weight of this evaluation", path=run.path, fix="pick a LoRA cell")
    picked = evaluation.with_choice(cell, PICKED)
    if not record_evaluation(registry, picked.friend_id, picked.run_id, picked):
        raise QbtuiError(
            f"run {picked.run_id} has no training row in the registry",
            path=registry.path,
            fix="only a completed training is recorded; pick from a completed run",
        )
    write_evaluation(run.eval_json, picked)
    from qbtui.cards import refresh_cards

    refresh_cards(registry, [picked.friend_id])
    return picked


@dataclass(frozen=True)
class EvaluationStatus:
    """A training run's likeness as `eval --show` and the compare view tell it: the stored scores,
    the pass running over it now, and why its training measured none."""

    run_id: str
    evaluation: Evaluation | None
    running: RunInfo | None = None
    skipped: str | None = None
    training: RunInfo | None = None  # the run itself, queued or still taking its steps

    @property
    def training_words(self) -> str | None:
        """`run RUN is training (step 12/60): its likeness is scored at each checkpoint`, while it trains."""
        if self.training is None:
            return None
        if self.training.state == "queued":
            return f"run {self.run_id} is queued: its likeness is scored at each checkpoint once it trains"
        return f"run {self.run_id} is training ({self.training.progress_words}): its likeness is scored at each checkpoint"

    @property
    def can_evaluate(self) -> bool:
        """True when a pass may start now: none runs over the run and it no longer trains (`eval` would refuse)."""
        return self.running is None and self.training is None

    @property
    def missing_fix(self) -> str | None:
        """What to do about missing scores: follow the training, else evaluate (None while a pass runs or when skipped)."""
        if self.skipped is not None or self.running is not None:
            return None
        if self.training is not None:
            return f"follow it: `qbtui logs -f {self.run_id}`"
        return f"run `qbtui eval {self.run_id}` to evaluate it"

    def following(self, info: RunInfo | None) -> EvaluationStatus:
        """This status with a fresh snapshot of the pass or the training it follows (the workspace's run info):
        no pass once that run has ended; a training that reached its last step is left to a new `evaluation_status`."""
        if self.running is not None and info is not None and info.run_id == self.running.run_id:
            return replace(self, running=info if info.live else None)
        if self.training is not None and info is not None and info.run_id == self.training.run_id:
            return replace(self, training=info) if info.live and not info.after_training else self
        return self

    @property
    def running_words(self) -> str | None:
        """`the likeness pass of RUN is running: evaluating 7/41 · ETA 2:10`, while one runs."""
        if self.running is None:
            return None
        return f"the likeness pass of {self.run_id} is running: {self.running.progress_words}"

    @property
    def missing_words(self) -> str:
        """Why there are no scores: a pass running, the reason the training skipped them, or none ran yet."""
        return self.running_words or self.skipped or self.training_words or f"run {self.run_id} has no likeness evaluation yet"


def evaluation_status(run_path: Path | str) -> EvaluationStatus:
    """The status of the training run at `run_path` (or of the run an evaluation run scores)."""
    from qbtui.runs.info import read_run, runs_under

    run = evaluated_run(RunDir(Path(run_path)))
    evaluation = read_evaluation(run.eval_json)
    itself = read_run(run)
    skipped = None if evaluation else skipped_reason(run)
    # After its last step a run scores itself (its last samples first), unless it said it would not.
    running = itself if itself.evaluating or (itself.after_training and skipped is None) else None
    if running is None:
        running = next((info for info in runs_under(run.logs_dir) if info.live and _scores(info, run)), None)
    training = itself if running is None and itself.live and not itself.after_training else None
    return EvaluationStatus(run.run_id, evaluation, running, skipped, training)


def _scores(info: RunInfo, run: RunDir) -> bool:
    """True when `info` is an evaluation run of `run`."""
    if info.backend != EVAL_BACKEND or info.friend_id != run.friend_id:
        return False
    try:
        return evaluated_run(RunDir(info.path)).path == run.path
    except (QbtuiError, KeyError):
        return False


def skipped_reason(run: RunDir) -> str | None:
    """The line saying why a run's training measured no likeness (its last `eval skipped` event), if it says so."""
    from qbtui.likeness.report import format_eval_event

    skipped = [event for event in read_events(run.events) if event["type"] == "eval" and event["stage"] == "skipped"]
    return format_eval_event(skipped[-1]) if skipped else None
