"""Keeping a Mac awake for the length of a run: the decision, with the platform injected."""

from __future__ import annotations

import sys
from pathlib import Path

from qbtui.runs import keepawake
from qbtui.runs.keepawake import CAFFEINATE, keep_awake, keep_awake_command


def test_on_macos_caffeinate_watches_the_trainers_pid():
    assert keep_awake_command("darwin", 4242, exists=lambda path: path == CAFFEINATE) == [
        "/usr/bin/caffeinate",
        "-i",
        "-w",
        "4242",
    ]


def test_nothing_is_started_off_macos_or_without_caffeinate():
    assert keep_awake_command("linux", 4242, exists=lambda path: True) is None
    assert keep_awake_command("win32", 4242, exists=lambda path: True) is None
    assert keep_awake_command("darwin", 4242, exists=lambda path: False) is None


def test_a_caffeinate_that_cannot_start_is_no_failure(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-caffeinate"
    monkeypatch.setattr(keepawake, "keep_awake_command", lambda platform, pid: [str(missing), "-w", str(pid)])
    assert keep_awake(1) is None


def test_a_started_caffeinate_stand_in_gets_the_argument_list(monkeypatch, tmp_path):
    seen = tmp_path / "argv"
    stand_in = [sys.executable, "-c", f"import sys; open({str(seen)!r}, 'w').write(' '.join(sys.argv[1:]))"]
    monkeypatch.setattr(keepawake, "keep_awake_command", lambda platform, pid: [*stand_in, "-i", "-w", str(pid)])
    process = keep_awake(4242)
    assert process is not None and process.wait(timeout=60) == 0
    assert Path(seen).read_text() == "-i -w 4242"
