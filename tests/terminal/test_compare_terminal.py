"""In a real terminal: the likeness compare view (`v` on the Runs screen) shows the grid with its
scores and choice, arrow keys move, `enter` picks a new choice and the registry records it."""

from __future__ import annotations

from pathlib import Path

from qbtui.registry import Registry
from qbtui.rundir import run_id_labels
from tests.tui.conftest import build_workspace, write_run
from tests.tui.test_compare_screen import RUN_ID, evaluated_run


def chosen_row(registry_path: Path) -> tuple[float | None, str]:
    training = Registry.load(registry_path).friends["peter"].last_training
    assert training is not None
    return training.chosen_weight, training.chosen_lora


def test_moving_and_picking_in_the_compare_view_writes_the_registry(tmp_path: Path, qbtui_terminal) -> None:
    registry = build_workspace(tmp_path / "ws", [("peter", "Peter", 0, 0)])
    evaluated_run(registry, write_run)
    before = registry.read_text()
    assert chosen_row(registry) == (None, "")
    terminal = qbtui_terminal(registry, size=(80, 24))
    terminal.wait_for("palette")
    terminal.send("r")
    terminal.wait_for(lambda shown: any(label in shown for label in run_id_labels(RUN_ID)))  # shortened to fit 80 columns
    terminal.send("v")
    grid_shown = ("choice: 20 at weight 0.6", "20 @ 0.6:", "★ w 0.6", "w 0.8", "0.406 · 100% faces", "0.510 · 100% faces")
    terminal.wait_for(lambda shown: all(text in shown for text in grid_shown))
    terminal.send("Down", "Right", "Right")
    terminal.wait_for("40 @ 1:")
    terminal.send("Enter")
    terminal.wait_until(lambda: chosen_row(registry) == (1.0, "qb_peter_lora-40.safetensors"))
    terminal.wait_for(lambda shown: "choice: 40 at weight 1" in shown and "★ w 1" in shown)
    after = registry.read_text()
    assert after != before and "chosen_weight = 1.0" in after and 'chosen_lora = "qb_peter_lora-40.safetensors"' in after
