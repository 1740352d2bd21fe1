"""Scoring a checkpoint during training is a phase of its own: after `checkpoint` at step 20 the
trainer's `eval scoring` events say how many of its samples are drawn, and `qbtui runs`, runs --json,
`qbtui logs` and the Training screen show `scoring` (not a frozen `running 20/40 · ETA 0:19`) until
its `eval checkpoint` event; the ETA adds the scoring left, or is unknown before a sample was timed."""

from __future__ import annotations

import json

from qbtui.cli import main
from qbtui.events import EventWriter
from qbtui.runs.info import read_run
from tests.tui.conftest import FIXED_NOW
from tests.tui.test_training import open_training

RUN_ID = "20261125-034512-peter-a1b2"


def scoring_at_20(run, done: int, eta_s: float | None) -> None:
    """Step 20's checkpoint, then its scoring: `done` of 4 samples drawn, `eta_s` of scoring left."""
    with EventWriter(run.events) as events:
        events.write("checkpoint", step=20, path=str(run.path / "qb_peter_lora-step00000020.safetensors"))
        for drawn in range(done + 1):
            events.write("eval", t=FIXED_NOW - 30 + drawn, stage="scoring", step=20, done=drawn, total=4, eta_s=eta_s)


def test_the_scoring_at_a_checkpoint_is_the_runs_phase_until_its_scores(demo_registry, run_writer, step_writer, capsys):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=20, max_steps=40)
    assert (read_run(run.path).phase, read_run(run.path).remaining_s) == ("training", 10.0)
    scoring_at_20(run, 0, None)
    info = read_run(run.path)
    assert (info.phase, info.activity, info.progress) == ("scoring", "scoring", "20/40")
    assert info.progress_words == "step 20/40 · scoring likeness 0/4" and info.remaining_s is None
    scoring_at_20(run, 2, 12.0)
    info = read_run(run.path)
    assert info.progress_words == "step 20/40 · scoring likeness 2/4" and info.remaining_s == 22.0
    assert main(["--registry", str(demo_registry), "runs", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["phase"], listed["eval_done"], listed["eval_total"], listed["eta_s"]) == ("scoring", 2, 4, 22.0)
    assert main(["--registry", str(demo_registry), "runs"]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert " scoring " in row and " running " not in row and "0:22" in row
    assert main(["--registry", str(demo_registry), "logs", RUN_ID]) == 0
    log = capsys.readouterr().out
    assert log.count("scoring likeness at step 20: 4 samples") == 2 and "evaluation result" not in log

    with EventWriter(run.events) as events:
        events.write("eval", stage="checkpoint", step=20, scores=[[0.8, 0.5]], base=0.7)
    assert read_run(run.path).phase == "training"
    scoring_at_20(run, 1, 5.0)
    step_writer(run, [21], 40)
    assert read_run(run.path).progress_words == "step 21/40"


async def test_the_training_screen_shows_the_scoring(demo_registry, app_factory, run_writer, until):
    run = run_writer(demo_registry, "peter", RUN_ID, steps=20, max_steps=40)
    scoring_at_20(run, 2, 12.0)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: (info := app.workspace.run(RUN_ID)) is not None and info.phase == "scoring")
        screen = await open_training(app, pilot)
        await until(pilot, lambda: "scoring likeness 2/4" in str(screen.query_one("#run-line").content))
        line = str(screen.query_one("#run-line").content)
        assert line.startswith("running: step 20/40 · scoring likeness 2/4") and "ETA 0:22" in line
