"""The command palette: every action of the app, per friend where it needs one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from qbtui.tui.app import QbtuiApp


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: what it says, what it does."""

    title: str
    help: str
    run: Callable[[], object]


def palette_commands(app: QbtuiApp) -> list[PaletteCommand]:
    """Every command the palette offers, built from the workspace's current friends."""
    commands = [
        PaletteCommand("Friends dashboard", "Every friend with its dataset and training state", app.action_dashboard),
        PaletteCommand("Runs and queue", "Every run; reorder or cancel queued runs", app.action_runs),
        PaletteCommand("Add friend", "Name, token and folder for a new friend", app.action_add_friend),
        PaletteCommand("Prompt helper", "Turn a scene into an A1111 prompt and copy it", app.action_prompt),
        PaletteCommand("Notifications log", "Every notice of this session in full (ctrl+l)", app.action_notices),
        PaletteCommand("Pick theme", "Choose a theme; the choice is saved in the registry", app.action_pick_theme),
        PaletteCommand("Help", "Every key of every screen", app.action_help),
        PaletteCommand("Quit", "Leave qbtui (trainings keep running)", app.exit),
    ]
    for friend in app.workspace.friends():
        commands += [
            PaletteCommand(
                f"Open dataset: {friend.name}",
                f"Images and captions of {friend.token}",
                partial(app.action_open_dataset, friend.id),
            ),
            PaletteCommand(
                f"Train: {friend.name}", f"Start or watch the training of {friend.token}", partial(app.action_train, friend.id)
            ),
            PaletteCommand(
                f"Stop training: {friend.name}",
                f"Stop the running training of {friend.token}",
                partial(app.action_stop, friend.id),
            ),
        ]
    for name in sorted(app.available_themes):
        commands.append(PaletteCommand(f"Theme: {name}", "Switch to this theme and save it", partial(app.action_set_theme, name)))
    return commands


class QbtuiCommands(Provider):
    """Offers `palette_commands` to Textual's command palette."""

    @property
    def _app(self) -> QbtuiApp:
        """The app this provider is registered by (QbtuiApp.COMMANDS)."""
        return cast("QbtuiApp", self.app)

    async def discover(self) -> Hits:
        for command in palette_commands(self._app):
            if not command.title.startswith("Theme: "):
                yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in palette_commands(self._app):
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run, help=command.help)
