"""A completed training is recorded at its `done`, before any likeness scoring ends (issue 23, deliver 1)."""

from __future__ import annotations

from qbtui.registry import Registry
from qbtui.rundir import RunDir
from qbtui.runs import manager

FINAL = ("completed", "stopped", "failed", "crashed")


def test_the_registry_row_exists_while_the_likeness_pass_still_runs(workspace, monkeypatch, wait_for, wait_for_state):
    monkeypatch.setenv("STANDIN_MODE", "eval")  # after `done` the stand-in waits for release-eval
    info = manager.start_run(workspace, "peter")
    run = RunDir(info.path)

    def recorded():
        return Registry.load(workspace.path).friend("peter").trainings

    (training,) = wait_for(recorded, what="the training recorded at done")
    assert training.run_id == info.run_id and training.lora_file == "qb_peter_lora.safetensors"
    assert training.chosen_weight is None  # the pass has not chosen yet
    assert not run.eval_json.exists() and not (run.path / "release-eval").exists()
    (run.path / "release-eval").write_text("")
    assert wait_for_state(info.path, FINAL).state == "completed"
    (training,) = recorded()  # the same row, now with the choice
    assert training.run_id == info.run_id and training.chosen_weight == 0.8
