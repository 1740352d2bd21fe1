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


async def test_world_changes_reach_the_screen_and_are_dropped_once_the_app_has_closed(demo_registry, app_factory):
    from qbtui.tui.messages import RegistryChanged

    app = app_factory(demo_registry)
    delivered: list[object] = []
    async with app.run_test(size=(80, 24)):
        screen = app.screen
        original = screen.post_message
        world = (FriendChanged, RunsUpdated, RegistryChanged)

        def recording(message):
            if isinstance(message, world):
                delivered.append(message)
            return original(message)

        screen.post_message = recording  # type: ignore[method-assign]
        app.on_runs_updated(RunsUpdated(("a",)))
        assert [type(message) for message in delivered] == [RunsUpdated]
    assert not app.screen_stack
    app.on_friend_changed(FriendChanged("anna"))
    app.on_runs_updated(RunsUpdated(("b",)))
    app.on_registry_changed(RegistryChanged())
    assert [type(message) for message in delivered] == [RunsUpdated], "nothing is delivered after the app closed"
