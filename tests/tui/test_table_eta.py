"""The friends table's row of a scoring or evaluating run says its phase, its step (or the pass's samples) and
the ETA `qbtui runs` prints, at every size: the less important columns give way first, never the ETA.
`qbtui runs` shows the step under STEP and the pass's samples under STATE, as --json does. At 80 columns the
Training screen's line keeps its ETA in sight, and the Runs screen each run's start and its `esc Back` key."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Label
from textual.widgets._footer import FooterKey

from qbtui.cli import main
from qbtui.rundir import run_id_labels
from tests.tui.test_dashboard import row as friend_row
from tests.tui.test_evaluating_phase import evaluating
from tests.tui.test_runs_screen import cells as runs_cells, open_runs
from tests.tui.test_scoring_phase import scoring_at_20
from tests.tui.test_training import open_training

RUN_ID = "20261125-034512-peter-a1b2"
SIZES = [(60, 20), (80, 24), (120, 40)]


def scoring(registry, run_writer):
    scoring_at_20(run_writer(registry, "peter", RUN_ID, steps=20, max_steps=40), 2, 12.0)
    return "scoring 20/40"


def evaluating_pass(registry, run_writer):
    evaluating(run_writer(registry, "peter", RUN_ID, steps=60))
    return "evaluating 7/41"


def runs_row(registry, capsys) -> dict[str, str]:
    """`qbtui runs`' row of the run, by column name (its STATE may hold two words)."""
    assert main(["--registry", str(registry), "runs"]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    names = header.split()
    starts = [header.index(name) for name in names]
    cells = [line[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
    return dict(zip(names, cells, strict=True))


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("phase", [scoring, evaluating_pass], ids=["scoring", "evaluating"])
async def test_the_table_row_shows_the_phase_step_and_the_eta_of_qbtui_runs(
    demo_registry, app_factory, run_writer, until, capsys, phase, size
):
    words = phase(demo_registry, run_writer)
    listed = runs_row(demo_registry, capsys)
    assert listed["STATE"].startswith(words.split()[0]) and listed["ETA"] not in ("", "-")
    app = app_factory(demo_registry)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: any(cell.startswith("▶ ") for cell in friend_row(app, "peter")))
        training = friend_row(app, "peter")[-1]
        assert training.startswith(f"▶ {words}") and training.endswith(f" {listed['ETA']}"), training


def test_qbtui_runs_shows_the_step_under_step_and_the_pass_under_state(demo_registry, run_writer, capsys):
    evaluating_pass(demo_registry, run_writer)
    listed = runs_row(demo_registry, capsys)
    assert main(["--registry", str(demo_registry), "runs", "--json"]) == 0
    (info,) = json.loads(capsys.readouterr().out)
    assert listed["STEP"] == f"{info['step']}/{info['max_steps']}" == "60/60"
    assert listed["STATE"] == f"evaluating {info['eval_done']}/{info['eval_total']}" == "evaluating 7/41"


async def test_the_training_line_keeps_the_eta_in_sight_at_80_columns(demo_registry, app_factory, run_writer, until):
    scoring(demo_registry, run_writer)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: (info := app.workspace.run(RUN_ID)) is not None and info.phase == "scoring")
        screen = await open_training(app, pilot)
        label = screen.query_one("#run-line", Label)
        await until(pilot, lambda: "scoring likeness 2/4" in str(label.content))
        line = str(label.content)
        assert line.index("ETA 0:22") + len("ETA 0:22") <= label.content_region.width, (line, label.content_region.width)


async def test_the_runs_screen_at_80_columns_shows_each_runs_start_and_its_back_key(
    demo_registry, app_factory, run_writer, until
):
    run_writer(demo_registry, "peter", RUN_ID, steps=12)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 1)
        assert runs_cells(app, RUN_ID)[2] in run_id_labels(RUN_ID)[1:] and runs_cells(app, RUN_ID)[2].startswith("11-25 03:45")
        await until(pilot, lambda: bool(app.screen.query(FooterKey)))
        keys = {key.description: key.region for key in app.screen.query(FooterKey)}
        assert max(keys["Back"].right, keys["Help"].right) <= keys["palette"].x, keys  # the palette key sits over the right end


async def test_an_evaluating_run_keeps_its_start_on_the_runs_screen_at_80_columns(demo_registry, app_factory, run_writer, until):
    evaluating_pass(demo_registry, run_writer)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot, until, 1)
        assert runs_cells(app, RUN_ID)[2:4] == ["11-25 03:45", "evaluating 7/41"]
