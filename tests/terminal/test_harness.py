"""The tmux harness drives the real dashboard: it starts, shows the registry's friends at the
size asked, takes keys, and quits cleanly with nothing printed on the way out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.terminal.tmux import QbtuiTerminal

FRIEND = '\n[friends.dora]\nname = "Dora"\ntoken = "qb_dora"\nrepeats = 30\ndescribe = "woman"\n'


def test_dashboard_starts_at_the_size_asked_and_quits_cleanly(registry_path: Path, qbtui_terminal) -> None:
    registry_path.write_text(registry_path.read_text(encoding="utf-8") + FRIEND, encoding="utf-8")
    (registry_path.parent / "datasets" / "dora" / "30_dora").mkdir(parents=True)
    terminal = qbtui_terminal(registry_path, size=(80, 24))
    screen = terminal.wait_for("qb_dora")
    assert len(screen.splitlines()) == 24
    assert max(len(line) for line in screen.splitlines()) <= 80
    terminal.wait_for("palette")
    terminal.send("C-q")
    terminal.wait_until(lambda: terminal.exited)
    assert "Traceback" not in terminal.screen()


def test_keys_reach_the_app(registry_path: Path, qbtui_terminal) -> None:
    terminal = qbtui_terminal(registry_path, size=(100, 30))
    terminal.wait_for("palette")
    terminal.send("f1")
    terminal.wait_for("qbtui keys")
    terminal.send("Escape")
    terminal.wait_for(lambda screen: "qbtui keys" not in screen)
    terminal.send("C-q")
    terminal.wait_until(lambda: terminal.exited)


def test_the_pane_size_wins_over_a_parents_columns_and_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist's workers export COLUMNS=80 and LINES=24; a program in a 120x30 pane must see 120x30."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    probe = "import shutil, time; print('size', *shutil.get_terminal_size()); time.sleep(60)"
    terminal = QbtuiTerminal(120, 30).start([sys.executable, "-c", probe])
    try:
        assert "size 120 30" in terminal.wait_for("size ")
    finally:
        terminal.close()
