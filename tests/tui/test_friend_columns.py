"""The friends table's column plan at every width from 60 to 250 (issue 25 item 4), and the
training log that wraps again at its new width."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from qbtui.tui.widgets.friend_columns import PADDING, full_width, needs_of, plan_columns
from qbtui.tui.widgets.reflow_log import ReflowLog

# Mary Jane O'Brien's token; a running run's full text and its shortest (`▶ 12/60 0:24`).
NEEDS = needs_of(["Ada", "Mary Jane O'Brien"], ["qb_ada", "qb_mary_jane_obrien"], [(27, 27), (21, 12)])


def test_name_ready_and_training_are_never_dropped_and_training_never_below_its_short_text() -> None:
    for width in range(60, 251):
        plan = plan_columns(width, NEEDS)
        assert {"name", "ready", "training"} <= set(plan), width
        assert plan["training"] >= NEEDS.training_short and plan["name"] >= 5, (width, plan)
        assert sum(plan.values()) + PADDING * len(plan) <= width, (width, plan)


def test_the_token_is_whole_at_80_and_everything_is_whole_when_there_is_room() -> None:
    assert plan_columns(80, NEEDS)["token"] == len("qb_mary_jane_obrien")
    room = full_width(NEEDS)
    assert plan_columns(room, NEEDS) == {
        "name": 17,
        "token": 19,
        "images": 4,
        "captions": 4,
        "problems": 5,
        "ready": 5,
        "training": 32,
    }


class LogApp(App):
    def compose(self) -> ComposeResult:
        yield ReflowLog(max_lines=100, min_width=10)


async def test_the_log_wraps_again_at_its_new_width() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(ReflowLog)
        log.add(Text("word " * 20))
        await pilot.pause()
        narrow = len(log.lines)
        await pilot.resize_terminal(100, 10)
        await pilot.pause()
        await pilot.pause()
        assert len(log.lines) < narrow
        assert max(strip.cell_length for strip in log.lines) > 40
