"""Friends dashboard: every friend, live updates from the folder watcher and the run poller."""

from __future__ import annotations

from textual.widgets import Static

from qbtui.tui.screens.dashboard import DashboardScreen
from qbtui.tui.widgets.friend_table import FriendTable
from qbtui.tui.widgets.status_line import StatusLine


def row(app, friend_id: str) -> list[str]:
    return [str(cell) for cell in app.screen.query_one(FriendTable).get_row(friend_id)]


def details(app) -> str:
    return str(app.screen.query_one("#friend-details", Static).content)


async def test_every_friend_is_listed_with_dataset_figures(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert row(app, "peter")[:7] == ["Peter", "qb_peter", "24", "24", "0", "yes", "not trained"]
        assert row(app, "anna")[:6] == ["Anna", "qb_anna", "12", "9", "4", "no"]
        assert row(app, "sam")[2] == "0"


async def test_side_panel_lists_the_selected_friends_problems_with_fixes(demo_registry, app_factory, settle):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Dataset ready: 24 images" in details(app)
        await pilot.press("down")
        text = details(app)
        assert text.startswith("Anna")
        assert "Problems (4)" in text and "fix:" in text
        assert text.count("fix:") == 4


async def test_new_photo_updates_the_row_without_a_key_press(demo_registry, app_factory, settle, photo_adder, until):
    app = app_factory(demo_registry, watch=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert row(app, "anna")[2] == "12"
        photo_adder(demo_registry, "anna", 40)
        await until(pilot, lambda: row(app, "anna")[2:4] == ["13", "10"])


async def test_growing_events_file_moves_the_training_cell(demo_registry, app_factory, run_writer, step_writer, until):
    run = run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=5)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: row(app, "peter")[6].startswith("▶ 5/60"))
        step_writer(run, range(6, 31))
        await until(pilot, lambda: row(app, "peter")[6].startswith("▶ 30/60"))
        assert row(app, "peter")[6].endswith("0:15")


async def test_finished_run_shows_as_trained_and_crash_as_crashed(demo_registry, app_factory, run_writer, until):
    run_writer(demo_registry, "peter", "20261125-034512-peter-a1b2", steps=60, status="completed")
    run_writer(demo_registry, "anna", "20261125-034600-anna-c3d4", steps=7, live=False)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: row(app, "anna")[6] == "crashed at 7")
        assert row(app, "peter")[6] == "trained · 60 steps"


async def test_friend_added_in_another_terminal_appears(demo_registry, app_factory, settle, until):
    from qbtui.registry import Registry

    app = app_factory(demo_registry, watch=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        Registry.load(demo_registry).add_friend("Zoe", describe="woman, red scarf")
        await until(pilot, lambda: "zoe" in [key.value for key in app.screen.query_one(FriendTable).rows])
        await until(pilot, lambda: row(app, "zoe")[2] == "0")
        assert row(app, "zoe")[:2] == ["Zoe", "qb_zoe"]


async def test_broken_registry_edit_is_reported_and_the_last_good_one_kept(demo_registry, app_factory, settle, until):
    app = app_factory(demo_registry, watch=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        good = demo_registry.read_text()
        demo_registry.write_text(good.replace('preset = "demo"', 'preset = "nope"'))
        messages = lambda: [notice.message for notice in app.notices.items]  # noqa: E731
        await until(pilot, lambda: any("kept the last good registry" in message for message in messages()))
        assert any(str(demo_registry) in message and "fix:" in message for message in messages())
        assert app.screen.query_one(FriendTable).row_count == 3
        status = lambda: str(app.screen.query_one(StatusLine).content)  # noqa: E731
        await until(pilot, lambda: status().startswith("registry error: registry.toml"))
        assert "(last good kept)" in status() and "last error: registry.toml:7: kept the last good registry" in status()
        assert all(len(str(note.message).splitlines()) <= 3 for note in app._notifications)
        demo_registry.write_text(good + "\n")
        await until(pilot, lambda: status().startswith("registry OK"))
        assert any(message.startswith("registry OK again") for message in messages())
        assert "last error" not in status()  # its cause is gone (issue 25 item 8)


async def test_add_friend_from_the_dashboard_adds_a_row(demo_registry, app_factory, settle, until):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.press(*"Zoe")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen")
        await until(pilot, lambda: "zoe" in [key.value for key in app.screen.query_one(FriendTable).rows])
        await until(pilot, lambda: row(app, "zoe")[2] == "0")
        assert row(app, "zoe")[:2] == ["Zoe", "qb_zoe"]
