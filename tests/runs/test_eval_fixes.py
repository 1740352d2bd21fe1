"""`qbtui eval`'s refusals name a fix that works: a run on the device (wait for it; eval has no
--queue), a run still training (its checkpoints are scored as it trains), a base model that moved."""

from __future__ import annotations

from qbtui.cli import main
from qbtui.registry import Registry
from qbtui.runs import manager
from qbtui.runs.info import read_run

FINAL = ("completed", "stopped", "failed", "crashed")


def qbtui(workspace, *args):
    return main(["--registry", str(workspace.path), *args])


def completed_run(workspace, wait_for_state, friend: str) -> str:
    info = manager.start_run(workspace, friend)
    assert wait_for_state(info.path, FINAL).state == "completed"
    return info.run_id


def test_eval_while_another_run_trains_says_to_wait_for_it(workspace, capsys, monkeypatch, wait_for, wait_for_state):
    maria = completed_run(workspace, wait_for_state, "maria")
    monkeypatch.setenv("STANDIN_STEP_S", "2")
    training = manager.start_run(workspace, "peter")
    wait_for(lambda: read_run(training.path).step >= 1, what="peter's first step")
    capsys.readouterr()
    try:
        assert qbtui(workspace, "eval", maria, "--detach") == 2
        refused = capsys.readouterr().err
        assert f"another run is using the device: {training.run_id}" in refused
        assert "--queue" not in refused
        assert f"wait for run {training.run_id} to end" in refused and f"qbtui eval {maria}" in refused

        assert qbtui(workspace, "eval", training.run_id, "--show") == 2
        training_words = capsys.readouterr().err
        assert f"run {training.run_id} is training (step " in training_words
        assert "its likeness is scored at each checkpoint" in training_words
        assert f"qbtui logs -f {training.run_id}" in training_words and "qbtui eval" not in training_words
    finally:
        assert qbtui(workspace, "stop", training.run_id) == 0
        wait_for_state(training.path, FINAL)


def test_eval_of_a_run_whose_base_model_moved_names_the_runs_model(workspace, capsys, wait_for_state):
    maria = completed_run(workspace, wait_for_state, "maria")
    models = workspace.path.parent / "models"
    (models / "base").rename(models / "renamed")
    workspace.set_setting("base_model", "models/renamed")
    capsys.readouterr()
    assert qbtui(workspace, "eval", maria, "--detach") == 2
    refused = capsys.readouterr().err
    assert f"run {maria} was trained on this base model, and it is missing" in refused
    assert str(models / "base") in refused and "ln -s" in refused
    assert "set base_model in registry.toml" not in refused
    assert Registry.load(workspace.path).settings.base_model == models / "renamed"
