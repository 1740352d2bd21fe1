"""The Training screen shows the run's command shell-quoted: pasted, it runs exactly that argv (issue 10 item 13)."""

from __future__ import annotations

import shlex

from textual.widgets import Static

from qbtui.registry import Registry
from qbtui.runs import command_for
from qbtui.tui.screens.training import TrainingScreen

HOSTILE_LOGS = "logs $(touch pwned) [b]x[/b] 'q'"


async def test_the_command_is_shown_shell_quoted(demo_registry, app_factory, until):
    text = demo_registry.read_text().replace('logs_dir = "logs"', f'logs_dir = "{HOSTILE_LOGS}"')
    demo_registry.write_text(text)
    argv = command_for(Registry.load(demo_registry), "peter", None, None)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TrainingScreen))
        shown = app.screen.query_one("#train-command", Static)
        await until(pilot, lambda: "qbtui.trainer" in str(shown.render()))
        line = str(shown.render())
    assert line.startswith("$ ")
    assert shlex.split(line[2:]) == argv
