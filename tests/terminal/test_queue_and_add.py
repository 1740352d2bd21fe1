"""In a real terminal: `u`/`d` reorder the Runs screen (and the queue files), and fast typing
after a refused add lands in the right fields."""

from __future__ import annotations

import time
from pathlib import Path

from qbtui.registry import Registry
from qbtui.rundir import RunDir, write_run_toml
from qbtui.runs.queue import enqueue, list_queue
from tests.tui.conftest import build_workspace, write_run

RUNNING = "20261125-034512-peter-a1b2"
FIRST = "20261125-040000-anna-e5f6"
SECOND = "20261125-040100-sam-a7b8"


def queue_run(registry_path: Path, friend_id: str, run_id: str) -> None:
    run = RunDir(registry_path.parent / "logs" / friend_id / run_id)
    run.path.mkdir(parents=True)
    write_run_toml(
        run,
        {"run_id": run_id, "friend": friend_id, "backend": "builtin", "preset": "demo", "created_at": time.time()},
        {"max_train_steps": 60},
    )
    enqueue(Registry.load(registry_path).settings, run)


def row_order(screen: str, *run_ids: str) -> list[str]:
    """The given run ids in the order their rows appear on screen (not the line under the table
    that says why the selected queued run waits)."""
    lines = [line for line in screen.splitlines() if ": waits (" not in line and ": a place is free" not in line]
    rows = [(line_number, run_id) for line_number, line in enumerate(lines) for run_id in run_ids if run_id in line]
    return [run_id for _, run_id in sorted(rows)]


def place_of(screen: str, run_id: str) -> str:
    """The `#` cell of a run's row (the Friend column follows it)."""
    line = next(line for line in screen.splitlines() if run_id in line)
    cells = line.split(run_id)[0].split()
    return cells[0] if len(cells) == 2 else ""


def test_d_and_u_reorder_the_runs_screen_and_the_queue(tmp_path: Path, qbtui_terminal) -> None:
    registry = build_workspace(tmp_path / "ws", [("peter", "Peter", 0, 0), ("anna", "Anna", 0, 0), ("sam", "Sam", 0, 0)])
    write_run(registry, "peter", RUNNING, steps=5)
    queue_run(registry, "anna", FIRST)
    queue_run(registry, "sam", SECOND)
    settings = Registry.load(registry).settings
    terminal = qbtui_terminal(registry, size=(120, 24))  # whole run ids (at 80 columns they are elided at their start)
    terminal.wait_for("palette")
    terminal.send("r")
    screen = terminal.wait_for(lambda shown: FIRST in shown and SECOND in shown and RUNNING in shown)
    assert row_order(screen, FIRST, SECOND, RUNNING) == [FIRST, SECOND, RUNNING]
    assert (place_of(screen, FIRST), place_of(screen, SECOND), place_of(screen, RUNNING)) == ("1", "2", "")
    terminal.send("d")
    screen = terminal.wait_for(lambda shown: row_order(shown, FIRST, SECOND) == [SECOND, FIRST])
    assert (place_of(screen, SECOND), place_of(screen, FIRST)) == ("1", "2")
    assert list_queue(settings) == [SECOND, FIRST]
    terminal.send("u")
    terminal.wait_for(lambda shown: row_order(shown, FIRST, SECOND) == [FIRST, SECOND])
    assert list_queue(settings) == [FIRST, SECOND]
    terminal.send("c")
    terminal.wait_for("Cancel the queued run")
    terminal.send("n")
    terminal.wait_for(lambda shown: "Cancel the queued run" not in shown)
    assert list_queue(settings) == [FIRST, SECOND]


def test_fast_typing_after_a_refused_add_lands_in_the_right_fields(registry_path: Path, qbtui_terminal) -> None:
    # A deep folder, as a home directory may be: the refusal must still show in 80x24 (it once
    # began with the registry's path, and the reason wrapped out of the dialog).
    deep = registry_path.parent / ("a-rather-long-folder-name-" * 3) / "registry.toml"
    deep.parent.mkdir()
    registry_path = registry_path.replace(deep)
    Registry.load(registry_path).add_friend("Ben")
    terminal = qbtui_terminal(registry_path, size=(80, 24))
    terminal.wait_for("palette")
    terminal.send("a")
    terminal.wait_for("Add a friend")
    terminal.type("Ben")
    terminal.send("C-s")
    terminal.wait_for(lambda shown: "already exists" in shown and "fix: choose another name" in shown)
    terminal.send("D", "o", "r", "a", "Tab", "q", "b", "_", "a", "d", "a")
    screen = terminal.wait_for("token: qb_ada")
    assert "folder:" in screen and "/dora/30_dora" in screen
    assert "Doraqb" not in screen and Registry.load(registry_path).friends.keys() == {"ben"}
    terminal.send("C-s")
    terminal.wait_until(lambda: "dora" in Registry.load(registry_path).friends)
    dora = Registry.load(registry_path).friends["dora"]
    assert (dora.name, dora.token) == ("Dora", "qb_ada")
