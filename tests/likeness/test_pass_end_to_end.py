"""The evaluation on the demo: Ada's photos show faces, so training scores its checkpoints; the
tiny model draws noise, so no sample shows a face and nothing is chosen; `qbtui eval` (a
deliberate pass) reruns it as a run of its own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from qbtui import cli
from qbtui.demo import build_demo
from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.runs.info import read_run, runs_under
from qbtui.runs.manager import start_run

pytest.importorskip("dlib")


def wait_ended(path: Path, timeout: float = 900.0):
    deadline = time.monotonic() + timeout
    while (info := read_run(path)).live:
        assert time.monotonic() < deadline, f"run {path.name} still {info.state} after {timeout:.0f} s"
        time.sleep(0.2)
    return info


# The demo preset, shorter: a checkpoint at step 2, the final file at 4, no samples during training, one weight.
QUICK_PRESET = """
[presets.quick]
resolution = "64,64"
network_dim = 4
network_alpha = 2
learning_rate = 1e-3
max_train_steps = 4
save_every_n_steps = 2
sample_weights = "0.8"
mixed_precision = "no"
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace with a small evaluation: one prompt, one seed, two sampling steps."""
    registry_path = build_demo(tmp_path_factory.mktemp("likeness") / "demo")
    registry_path.write_text(registry_path.read_text(encoding="utf-8") + QUICK_PRESET, encoding="utf-8")
    registry = Registry.load(registry_path)
    registry.set_setting("eval_prompts", ["a photo of {token} person"])
    registry.set_setting("eval_seeds", 1)
    registry.set_setting("eval_steps", 2)
    return registry_path


@pytest.fixture(scope="module")
def trained(demo: Path):
    """Ada trained for four steps (a checkpoint and the final file), evaluated after the last step."""
    info = start_run(Registry.load(demo), "ada", preset="quick")
    return wait_ended(info.path)


def png_text(path: Path) -> dict:
    from PIL import Image

    with Image.open(path) as image:
        return dict(image.text)


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_a_training_scores_its_checkpoints_against_adas_faces_and_is_recorded(trained, demo: Path, capsys) -> None:
    assert trained.state == "completed", trained.error
    evals = [event for event in read_events(trained.path / "events.jsonl") if event["type"] == "eval"]
    stages = [event["stage"] for event in evals]
    assert "skipped" not in stages and "plan" in stages and "result" in stages, evals
    (result,) = [event for event in evals if event["stage"] == "result"]
    assert result.get("chosen") is None and result.get("reason") == "no faces in the samples", result
    assert (trained.path / "eval.json").exists()
    (training,) = Registry.load(demo).friends["ada"].trainings
    assert training.run_id == trained.run_id and training.chosen_weight is None
    code, out = run_cli(capsys, "--registry", str(demo), "logs", trained.run_id)
    assert code == 0 and "not measured" not in out
    code, out = run_cli(capsys, "--registry", str(demo), "prompt", "Ada reads")
    assert out.startswith("<lora:qb_ada_lora:0.8>, qb_ada person reads")


def test_qbtui_eval_reruns_the_pass_as_a_run_of_its_own(trained, demo: Path, capsys) -> None:
    code, out = run_cli(capsys, "--registry", str(demo), "eval", trained.run_id, "--weights", "0.7", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["chosen"] is None and result["reason"] == "no faces in the samples"
    assert [cell["key"] for cell in result["cells"]] == ["base@0", "2@0.7", "final@0.7"]
    (evaluation_run,) = [info for info in runs_under(trained.path.parent.parent) if info.backend == "eval"]
    assert evaluation_run.state == "completed"
    code, out = run_cli(capsys, "--registry", str(demo), "logs", evaluation_run.run_id)
    assert "evaluation: 2 LoRA files x 1 weights" in out and "choice: none (no faces in the samples)" in out
    code, out = run_cli(capsys, "--registry", str(demo), "eval", "ada", "--show")
    assert code == 0 and "final  0.7" in out
