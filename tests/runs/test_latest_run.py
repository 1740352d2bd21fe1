"""One rule for a friend's latest run: the live one, else the newest."""

from __future__ import annotations

from types import SimpleNamespace

from qbtui.runs.info import latest_run


def run(run_id: str, friend_id: str, live: bool) -> SimpleNamespace:
    return SimpleNamespace(run_id=run_id, friend_id=friend_id, live=live)


def test_the_live_run_wins_over_a_newer_finished_one():
    runs = [run("3", "ada", False), run("2", "ada", True), run("1", "ada", False)]
    assert latest_run(runs, "ada").run_id == "2"  # type: ignore[arg-type, union-attr]


def test_without_a_live_run_the_newest_is_latest_and_other_friends_do_not_count():
    runs = [run("4", "ben", True), run("3", "ada", False), run("1", "ada", False)]
    assert latest_run(runs, "ada").run_id == "3"  # type: ignore[arg-type, union-attr]
    assert latest_run(runs, "cleo") is None  # type: ignore[arg-type]
