"""The friends table in a real terminal at 60x20, 80x24, 120x40 and 200x50 (issue 25 item 4):
every friend's name (whole, or elided with …), Ready and the training state with its ETA
are on screen uncut; at 80x24 the long name's token is whole; no horizontal scrollbar."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.tui.conftest import build_workspace, write_run

FRIENDS = [("peter", "Peter", 24, 24), ("anna", "Anna", 12, 12), ("mary_jane_obrien", "Mary Jane O'Brien", 0, 0)]
RUN_ID = "20261206-050000-peter-a1b2"
STEP, MAX_STEPS = 12, 60


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Peter training (step 12 of 60, ETA known), Anna blocked (12 photos), Mary Jane O'Brien with none."""
    registry = build_workspace(tmp_path_factory.mktemp("ws"), FRIENDS)
    write_run(registry, "peter", RUN_ID, steps=STEP, max_steps=MAX_STEPS, started_at=time.time())
    return registry


def row_of(screen: str, start: str) -> str:
    """The table's part of the row starting with `start` (the side panel, right of ▏, cut off)."""
    return next(line for line in screen.splitlines() if line.strip().startswith(start)).split("▏")[0].rstrip()


def table_shown(screen: str) -> bool:
    return "Training" in screen and "▶ 12/60" in screen and "blocked: 12" in screen and "blocked: 0" in screen


@pytest.mark.parametrize("size", [(60, 20), (80, 24), (120, 40), (200, 50)])
def test_name_ready_and_training_with_eta_are_whole_at_every_size(workspace: Path, qbtui_terminal, size) -> None:
    terminal = qbtui_terminal(workspace, size=size)
    screen = terminal.wait_for(table_shown)
    header = row_of(screen, "Name")
    assert "Ready" in header and "Training" in header
    peter = row_of(screen, "Peter")
    training = peter[peter.index("▶") :].split()
    assert training[:2] == ["▶", f"{STEP}/{MAX_STEPS}"] and ":" in training[-1], peter  # the ETA, e.g. 0:24
    assert peter.split()[-len(training) - 1] == "yes"
    anna = row_of(screen, "Anna")
    assert " no " in anna and ("blocked: 12 photos, needs 20" in anna or anna.endswith("blocked: 12 of 20 photos")), anna
    mary = row_of(screen, "Mary")
    name = mary.split("  ")[0].strip()
    assert name == "Mary Jane O'Brien" or (name.endswith("…") and "Mary Jane O'Brien".startswith(name[:-1])), mary
    assert " no " in mary and "blocked: 0" in mary
    width, _ = size
    if width >= 80:
        assert "qb_mary_jane_obrien " in mary  # the token whole
    if width >= 120:
        assert name == "Mary Jane O'Brien" and "blocked: 0 photos, needs 20" in mary
    lines = [line.split("▏")[0].rstrip() for line in screen.splitlines()]
    below = lines[lines.index(mary) + 1]
    assert not below.strip() or below.strip()[0] in "▔▏", f"a stray line (a scrollbar?) under the table: {below!r}"


def test_at_120_columns_the_table_spans_the_width(workspace: Path, qbtui_terminal) -> None:
    terminal = qbtui_terminal(workspace, size=(120, 40))
    screen = terminal.wait_for(table_shown)
    mary = next(line for line in screen.splitlines() if line.startswith(" Mary"))
    assert "▏" not in mary and len(mary) > 80  # no side panel squeezing the table: it sits below


def test_the_training_screen_keeps_queue_and_the_loss_line_at_60x20(workspace: Path, qbtui_terminal) -> None:
    terminal = qbtui_terminal(workspace, size=(60, 20))
    terminal.wait_for(table_shown)
    terminal.send("t")
    screen = terminal.wait_for(lambda shown: "Queue (q)" in shown and "steps" in shown)
    assert "Start (s)" in screen
    loss = " ".join(line.strip() for line in screen.splitlines() if "loss" in line or "steps" in line)
    assert "running avg" in loss and f"{STEP} steps" in loss
