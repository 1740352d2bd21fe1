"""The command palette: every action of the app, per friend where it needs one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider

from qbtui.printable import printable_markup
from qbtui.tui.host import host
from qbtui.tui.intents import OpenDataset, OpenTraining, StopFriendRun


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: what it says, what it does."""

    title: str
    help: str
    run: Callable[[], object]


def palette_commands(app: App[object]) -> list[PaletteCommand]:
    """Every command the palette offers, built from the workspace's current friends (Stop
    only for a friend whose run is training now)."""
    commands = [
        PaletteCommand(
            "Friends dashboard", "Every friend with its dataset and training state", partial(app.run_action, "dashboard")
        ),
        PaletteCommand("Runs and queue", "Every run; reorder or cancel queued runs", partial(app.run_action, "runs")),
        PaletteCommand("Add friend", "Name, token and folder for a new friend", partial(app.run_action, "add_friend")),
        PaletteCommand("Prompt helper", "Turn a scene into an A1111 prompt and copy it", partial(app.run_action, "prompt")),
        PaletteCommand("Notifications log", "Every notice of this session in full (ctrl+l)", partial(app.run_action, "notices")),
        PaletteCommand(
            "Pick theme", "Choose a theme; the choice is saved in the registry", partial(app.run_action, "pick_theme")
        ),
        PaletteCommand("Help", "Every key of every screen", partial(app.run_action, "help")),
        PaletteCommand("Quit", "Leave qbtui (trainings keep running)", partial(app.run_action, "quit")),
    ]
    workspace = host(app).workspace
    for friend in workspace.friends():
        commands += [
            PaletteCommand(
                f"Open dataset: {printable_markup(friend.name)}",
                f"Images and captions of {friend.token}",
                partial(app.post_message, OpenDataset(friend.id)),
            ),
            PaletteCommand(
                f"Train: {printable_markup(friend.name)}",
                f"Start or watch the training of {friend.token}",
                partial(app.post_message, OpenTraining(friend.id)),
            ),
        ]
        if workspace.running_run(friend.id) is not None:
            commands.append(
                PaletteCommand(
                    f"Stop training: {printable_markup(friend.name)}",
                    f"Stop the running training of {friend.token}",
                    partial(app.post_message, StopFriendRun(friend.id)),
                )
            )
    for name in sorted(app.available_themes):
        commands.append(
            PaletteCommand(f"Theme: {name}", "Switch to this theme and save it", partial(app.run_action, f"set_theme({name!r})"))
        )
    return commands


class QbtuiCommands(Provider):
    """Offers `palette_commands` to Textual's command palette."""

    async def discover(self) -> Hits:
        for command in palette_commands(self.app):
            if not command.title.startswith("Theme: "):
                yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in palette_commands(self.app):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
