"""Recording a finished run in the registry: once per run id, from the run's own files."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from qbtui.runs.events import EventFollower
from qbtui.runs.rundir import RunDir


def final_step(run: RunDir, table: dict[str, Any]) -> int:
    """The last step the run's events report, else its planned steps."""
    step = 0
    for event in EventFollower(run.events).read_new():
        if event["type"] == "step":
            step = event["step"]
    return step or int(table.get("max_steps", 0))


def record_completed_training(run: RunDir, table: dict[str, Any], lora_path: str | None) -> str | None:
    """Add the training to the registry named in run.toml (idempotent per run id).

    Returns a warning when it could not be recorded (the run itself succeeded).
    """
    from qbtui.registry import Registry, Training

    try:
        registry = Registry.load(table["registry"])
        training = Training(
            date=date.today().isoformat(),
            steps=final_step(run, table),
            images=int(table.get("images", 0)),
            preset=str(table.get("preset", "")),
            backend=str(table.get("backend", "")),
            lora_file=Path(lora_path).name if lora_path else f"{table.get('output_name', '')}.safetensors",
            run_id=run.run_id,
        )
        registry.record_training(str(table["friend"]), training)
    except Exception as error:  # noqa: BLE001 - the run succeeded; say why the registry was not updated
        return f"the training was not recorded in the registry: {error}"
    return None
