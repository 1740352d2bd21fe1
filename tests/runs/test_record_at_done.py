"""A completed training is recorded at its `done`, before any likeness scoring ends (issue 23, deliver 1)."""

from __future__ import annotations

from qbtui.registry import Registry
from qbtui.rundir import RunDir
from qbtui.runs import manager
from qbtui.runs.info import read_run

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


def test_the_choice_is_recorded_at_done_and_a_better_final_cell_updates_the_same_row(
    workspace, monkeypatch, wait_for, wait_for_state
):
    """The stand-in trainer speaks the builtin trainer's protocol (`eval chosen` after `done` and after a final
    cell): the registry row holds the checkpoint's choice while the final file is scored, then the final cell's."""
    monkeypatch.setenv("STANDIN_MODE", "choice")
    info = manager.start_run(workspace, "peter")
    run = RunDir(info.path)

    def chosen(lora: str):
        def check():
            rows = Registry.load(workspace.path).friend("peter").trainings
            return rows if rows and rows[0].chosen_lora == lora else None

        return check

    (training,) = wait_for(chosen("qb_peter_lora-step00000004.safetensors"), what="the checkpoint's choice at done")
    assert training.run_id == info.run_id and training.lora_file == "qb_peter_lora.safetensors"
    assert (training.chosen_weight, training.likeness) == (0.8, 0.45)
    running = read_run(run.path)
    assert running.state == "running" and running.chosen is not None
    assert running.chosen.words == "chosen: step 4 · 0.8 · likeness 0.45, final step being scored"
    assert runs_table_lines(workspace)[-1] == f"{info.run_id}: chosen: step 4 · 0.8 · likeness 0.45, final step being scored"

    (run.path / "release-final").write_text("")
    (training,) = wait_for(chosen("qb_peter_lora.safetensors"), what="the better final cell recorded")
    assert read_run(run.path).state == "running"  # recorded while the backend still scores
    assert (training.run_id, training.chosen_weight, training.likeness) == (info.run_id, 0.8, 0.35)

    (run.path / "release-end").write_text("")
    assert wait_for_state(info.path, FINAL).state == "completed"
    (training,) = Registry.load(workspace.path).friend("peter").trainings  # still one row
    assert training.chosen_lora == "qb_peter_lora.safetensors"


def runs_table_lines(workspace) -> list[str]:
    """What `qbtui runs` prints."""
    import contextlib
    import io

    from qbtui.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--registry", str(workspace.path), "runs"]) == 0
    return out.getvalue().strip().splitlines()
