"""In a real terminal: the Runs screen's Where column names the host of a host run and
where each queued run may start."""

from __future__ import annotations

from pathlib import Path

from tests.tui.conftest import build_workspace, queue_run, write_run

ON_HOST = "20261125-034512-peter-a1b2"
HERE_RUN = "20261125-034600-ben-c3d4"
ANYWHERE = "20261125-040000-anna-e5f6"
PINNED = "20261125-040100-sam-a7b8"


def where_of(screen: str, run_id: str) -> str:
    """The Where cell of a run's row (the word after its state)."""
    line = next(line for line in screen.splitlines() if run_id in line)
    return line.split(run_id)[1].split()[1]


def test_the_runs_screen_shows_where_each_run_is(tmp_path: Path, qbtui_terminal) -> None:
    people = [("peter", "Peter", 0, 0), ("ben", "Ben", 0, 0), ("anna", "Anna", 0, 0), ("sam", "Sam", 0, 0)]
    registry = build_workspace(tmp_path / "ws", people)
    registry.write_text(registry.read_text() + '\n[hosts.gpu1]\nssh = "gpu1"\n')
    write_run(registry, "peter", ON_HOST, steps=5, host="gpu1")
    write_run(registry, "ben", HERE_RUN, steps=3)
    queue_run(registry, "anna", ANYWHERE, "anywhere")
    queue_run(registry, "sam", PINNED, "gpu1")
    terminal = qbtui_terminal(registry, size=(120, 24))  # whole run ids (at 80 columns they are elided at their start)
    terminal.wait_for("palette")
    terminal.send("r")
    screen = terminal.wait_for(lambda shown: all(run_id in shown for run_id in (ON_HOST, HERE_RUN, ANYWHERE, PINNED)))
    print(screen)
    assert "Where" in screen
    assert [where_of(screen, run_id) for run_id in (ON_HOST, HERE_RUN, ANYWHERE, PINNED)] == ["gpu1", "here", "anywhere", "gpu1"]
    # Under the table: why the selected queued run waits, from the queue's own placement rule.
    why = terminal.wait_for(f"{ANYWHERE}: waits (")
    assert f"{ANYWHERE}: waits (here runs 1 of 1; gpu1 runs 1 of 1)" in why
    terminal.send("Down")
    assert f"{PINNED}: waits (gpu1 runs 1 of 1)" in terminal.wait_for(f"{PINNED}: waits (")
    terminal.send("Down")
    terminal.wait_for(lambda shown: "waits (" not in shown)  # a running run waits for nothing
