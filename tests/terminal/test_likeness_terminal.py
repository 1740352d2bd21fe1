"""In a real 80x24 terminal: the Training screen of a run scoring its last LoRA shows the
evaluating phase (never `60/60 · ETA 0:00`) and the likeness chart beside the loss."""

from __future__ import annotations

from pathlib import Path

from tests.tui.conftest import build_workspace, write_run
from tests.tui.test_evaluating_phase import evaluating
from tests.tui.test_likeness_live import scored

RUN_ID = "20261125-034512-peter-a1b2"


def test_the_training_screen_shows_the_pass_and_the_likeness_chart(tmp_path: Path, qbtui_terminal) -> None:
    registry = build_workspace(tmp_path / "ws", [("peter", "Peter", 20, 20)])
    run = write_run(registry, "peter", RUN_ID, steps=60)
    scored(run)
    evaluating(run)
    terminal = qbtui_terminal(registry, size=(80, 24))
    terminal.wait_for("palette")
    terminal.send("t")
    screen = terminal.wait_for(lambda shown: "evaluating 7/41" in shown and "likeness: best 0.41" in shown)
    print(screen)
    assert "evaluating 7/41 · ETA 5:40" in screen and "60/60" not in screen and "ETA 0:00" not in screen
    assert "likeness: best 0.41 (40@0.8)" in screen and "step" in screen
