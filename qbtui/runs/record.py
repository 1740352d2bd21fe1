"""Recording a completed run in the registry: by its supervisor, or later by `qbtui record RUN`.

A training run's likeness choice (its eval.json) goes into its row with it; an evaluation
run records its choice into the row of the run it scored.

Recording is idempotent per run id. When the registry refuses the edit (a layout qbtui
cannot change safely, a read-only file), the run stays completed but not recorded, and
the warning names the command that records it once the registry is fixed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from qbtui.events import EventFollower
from qbtui.rundir import RunDir, read_run_toml


def record_command(run_id: str) -> str:
    """The command that records this run in the registry (for messages)."""
    return f"qbtui record {run_id}"


def final_step(run: RunDir, table: dict[str, Any]) -> int:
    """The last step the run's events report, else its planned steps."""
    step = 0
    for event in EventFollower(run.events).read_new():
        if event.get("type") == "step" and isinstance(event.get("step"), int):
            step = event["step"]
    return step or int(table.get("max_steps", 0))


def record_run(run: RunDir, lora_path: str | None = None, *, backend: str | None = None) -> str:
    """Add the run's training to the registry (skipped when its run id is already there); the friend id.

    Raises QbtuiError (RegistryError) when the registry cannot be read or changed.
    """
    from qbtui.registry import Registry, Training

    table = read_run_toml(run)["run"]
    if table.get("backend") == "eval":
        from qbtui.runs.evaluation import record_run_evaluation

        return record_run_evaluation(Registry.load(table["registry"]), run)
    step = 0
    for event in EventFollower(run.events).read_new():
        if event.get("type") == "step" and isinstance(event.get("step"), int):
            step = event["step"]
        elif event.get("type") == "done" and lora_path is None and isinstance(event.get("lora_path"), str):
            lora_path = event["lora_path"]
    training = Training(
        date=date.today().isoformat(),
        steps=step or int(table.get("max_steps", 0)),
        images=int(table.get("images", 0)),
        preset=str(table.get("preset", "")),
        backend=backend or str(table.get("backend", "")),
        lora_file=Path(lora_path).name if lora_path else f"{table.get('output_name', '')}.safetensors",
        run_id=run.run_id,
    )
    friend_id = str(table["friend"])
    registry = Registry.load(table["registry"])
    registry.record_training(friend_id, training)
    if run.eval_json.exists():
        from qbtui.runs.evaluation import record_run_evaluation

        record_run_evaluation(registry, run)
    return friend_id


def already_recorded(run: RunDir) -> bool:
    """Whether the registry already holds this run's training (by run id): `record_run` skips it then."""
    from qbtui.registry import Registry

    table = read_run_toml(run)["run"]
    if table.get("backend") == "eval":
        return False
    friend = Registry.load(table["registry"]).friends.get(str(table["friend"]))
    return friend is not None and any(done.run_id == run.run_id for done in friend.trainings)


def record_or_warning(run: RunDir, lora_path: str | None = None, *, backend: str | None = None) -> str | None:
    """`record_run`, with a failure turned into the warning the run shows (naming the command that records it later)."""
    try:
        record_run(run, lora_path, backend=backend)
    except Exception as error:  # noqa: BLE001 - the run succeeded; say why the registry was not updated
        return f"completed, not recorded in the registry: {error}\n  record it once the registry is fixed: {record_command(run.run_id)}"
    return None
