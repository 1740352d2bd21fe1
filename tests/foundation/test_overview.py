"""friend_overviews: dataset status, last training and newest run per friend."""

from __future__ import annotations

from pathlib import Path

import pytest

import qbtui.overview
from qbtui.dataset import ScanCache
from qbtui.overview import friend_overviews
from qbtui.registry import Registry, Training
from qbtui.runs import RunInfo


def _run(run_id: str, friend_id: str, state: str) -> RunInfo:
    return RunInfo(run_id, friend_id, Path(run_id), "builtin", "demo", state, 10, 60, 0.1, 0.1, None, None, None, None, None, ())


def test_overview_of_the_demo(demo_registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry.load(demo_registry)
    registry.record_training("ada", Training("2026-01-01", 60, 24, "demo", "builtin", run_id="old"))
    registry.record_training("ada", Training("2026-02-01", 60, 24, "demo", "builtin", run_id="new"))
    newest_first = [_run("r3", "ada", "running"), _run("r2", "cleo", "failed"), _run("r1", "ada", "completed")]
    monkeypatch.setattr(qbtui.overview, "list_runs", lambda settings: newest_first)
    cache = ScanCache()
    overviews = {overview.friend.id: overview for overview in friend_overviews(registry, cache)}
    assert list(overviews) == ["ada", "ben", "cleo"]
    assert overviews["ada"].latest_run.run_id == "r3" and overviews["cleo"].latest_run.run_id == "r2"
    assert overviews["ben"].latest_run is None
    assert overviews["ada"].last_training.run_id == "new"
    assert overviews["ada"].status.ready and not overviews["ben"].status.ready
    again = {overview.friend.id: overview for overview in friend_overviews(registry, cache)}
    assert again["ben"].status == overviews["ben"].status  # the scan from the cache, its face checks from theirs
    assert again["ada"].to_json()["latest_run"] == {"run_id": "r3", "state": "running", "step": 10, "max_steps": 60}
