"""The dashboard's model without the UI: its registry snapshot and its plain callbacks."""

from __future__ import annotations

import os
import time
from pathlib import Path

from qbtui.rundir import RunDir
from qbtui.workspace import Workspace


class Recorder:
    """A WorkspaceListener that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def friend_changed(self, friend_id: str) -> None:
        self.calls.append(("friend_changed", friend_id))

    def registry_changed(self) -> None:
        self.calls.append(("registry_changed", None))

    def registry_health(self, problem: str | None) -> None:
        self.calls.append(("registry_health", problem))

    def runs_updated(self, run_ids: tuple[str, ...]) -> None:
        self.calls.append(("runs_updated", run_ids))

    def run_warnings(self, new: tuple[str, ...]) -> None:
        self.calls.append(("run_warnings", new))

    def error(self, text: str, cause: str | None = None) -> None:
        self.calls.append(("error", text))

    def told(self, kind: str) -> list[object]:
        return [what for called, what in self.calls if called == kind]


def test_an_edit_publishes_a_new_registry_and_leaves_the_old_snapshot_alone(registry_path: Path) -> None:
    workspace = Workspace(registry_path)
    before = workspace.registry
    workspace.save_theme("sepia-sketch")
    assert workspace.registry is not before and workspace.settings.theme == "sepia-sketch"
    assert before.settings.theme != "sepia-sketch", "a reader holding the old snapshot sees it whole and unchanged"
    friend = workspace.add_friend("Dora", token=None, repeats=30, describe="")
    assert workspace.friend("dora") == friend and "dora" not in before.friends
    assert not workspace.reload_registry(), "the published copy is what the file holds"


def test_a_reload_swaps_the_snapshot_whole(registry_path: Path) -> None:
    workspace = Workspace(registry_path)
    before = workspace.registry
    registry_path.write_text(registry_path.read_text(encoding="utf-8") + '\n[friends.ada]\nname = "Ada"\ntoken = "qb_ada"\n')
    assert workspace.reload_registry()
    assert workspace.friend("ada").token == "qb_ada" and not before.friends


def test_a_bad_registry_on_disk_is_told_to_the_listener_and_the_last_good_one_stays(registry_path: Path) -> None:
    workspace = Workspace(registry_path)
    recorder = Recorder()
    workspace.start(recorder, watch=False)
    try:
        good = workspace.registry
        registry_path.write_text(registry_path.read_text(encoding="utf-8") + "\nbroken = [\n", encoding="utf-8")
        workspace._on_registry_changed()
        assert workspace.registry is good
        told = [(kind, str(what)) for kind, what in recorder.calls if kind != "runs_updated"]
        assert [kind for kind, _ in told] == ["registry_health", "error"]
        assert told[0][1].startswith("registry.toml") and "kept the last good registry" in told[1][1]
    finally:
        workspace.stop()
    recorder.calls.clear()
    workspace._on_registry_changed()
    assert recorder.calls == [], "nothing is told after stop"


def test_each_change_of_the_run_listings_warnings_is_told_once_with_the_new_ones(registry_path: Path) -> None:
    workspace = Workspace(registry_path, poll_interval=3600)  # the poller lists once; the test lists the rest
    fifo_run = RunDir(workspace.settings.logs_dir / "ghost" / "20261125-030000-ghost-0bad")
    fifo_run.path.mkdir(parents=True)
    os.mkfifo(fifo_run.run_toml)
    recorder = Recorder()
    workspace.start(recorder, watch=False)
    try:
        deadline = time.monotonic() + 60
        while not recorder.told("run_warnings") and time.monotonic() < deadline:
            time.sleep(0.02)
        [warning] = workspace.run_warnings()
        assert str(fifo_run.run_toml) in warning and "the run is skipped" in warning
        assert recorder.told("run_warnings") == [(warning,)]
        workspace.refresh_runs()
        assert recorder.told("run_warnings") == [(warning,)], "the same warning is not told again"
        fifo_run.run_toml.unlink()
        workspace.refresh_runs()
        assert workspace.run_warnings() == () and recorder.told("run_warnings") == [(warning,), ()]
        os.mkfifo(fifo_run.run_toml)
        workspace.refresh_runs()
        assert recorder.told("run_warnings") == [(warning,), (), (warning,)], "back again: new again"
    finally:
        workspace.stop()
