"""Bursty messages collapse without losing what they carry."""

from __future__ import annotations

from qbtui.tui.messages import FriendChanged, RunsUpdated


def test_newer_runs_update_takes_over_the_older_ones_run_ids():
    older, newer = RunsUpdated(("a", "b")), RunsUpdated(("c",))
    assert older.can_replace(newer)
    assert newer.run_ids == ("a", "b", "c")


def test_friend_changes_collapse_only_for_the_same_friend():
    assert FriendChanged("anna").can_replace(FriendChanged("anna"))
    assert not FriendChanged("anna").can_replace(FriendChanged("ben"))
    assert not FriendChanged("anna").can_replace(RunsUpdated(()))


def test_world_changes_arriving_while_the_app_closes_are_dropped(demo_registry):
    from qbtui.tui.app import QbtuiApp
    from qbtui.tui.messages import RegistryChanged

    app = QbtuiApp(demo_registry, watch=False)
    assert not app.screen_stack
    app.on_friend_changed(FriendChanged("anna"))
    app.on_runs_updated(RunsUpdated(("a",)))
    app.on_registry_changed(RegistryChanged())
