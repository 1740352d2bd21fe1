"""Every key of every screen, generated from the BINDINGS and the active keymap."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Iterator

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

if TYPE_CHECKING:
    from qbtui.tui.app import QbtuiApp

SCREENS = (
    ("Everywhere", "qbtui.tui.app", "QbtuiApp"),
    ("Friends dashboard", "qbtui.tui.screens.dashboard", "DashboardScreen"),
    ("Dataset", "qbtui.tui.screens.dataset", "DatasetScreen"),
    ("Training", "qbtui.tui.screens.training", "TrainingScreen"),
    ("Runs and queue", "qbtui.tui.screens.runs", "RunsScreen"),
    ("Add friend", "qbtui.tui.screens.add_friend", "AddFriendScreen"),
    ("Prompt helper", "qbtui.tui.screens.prompt", "PromptScreen"),
    ("Help", "qbtui.tui.screens.help", "HelpScreen"),
)


def screen_bindings() -> Iterator[tuple[str, list[Binding]]]:
    """(screen title, its bindings) for every screen, read from the classes' BINDINGS."""
    for title, module, name in SCREENS:
        cls = getattr(importlib.import_module(module), name)
        bindings = [Binding.make_bindings([entry]) for entry in cls.BINDINGS]
        yield title, [binding for group in bindings for binding in group]


def keys_of(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys that trigger a binding, with the user's keymap applied."""
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return ", ".join(f"`{key.strip()}`" for key in keys.split(","))


def help_markdown(keymap: dict[str, str]) -> str:
    """A Markdown table per screen: keys, what they do, binding id (for the keymap)."""
    parts = ["# qbtui keys", "", "Remap any key by id in `[keymap]` of keymap.toml beside registry.toml.", ""]
    for title, bindings in screen_bindings():
        parts += [f"## {title}", "", "| Keys | Does | Id |", "|---|---|---|"]
        for binding in bindings:
            does = binding.description or binding.action.replace("_", " ")
            parts.append(f"| {keys_of(binding, keymap)} | {does} | {binding.id or ''} |")
        parts.append("")
    parts.append("The command palette (`ctrl+p`) offers every action by name.")
    return "\n".join(parts)


class HelpScreen(ModalScreen[None]):
    """The key reference; escape or q closes it."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Close", id="help.close"),
    ]

    app: "QbtuiApp"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown(self.app.keymap), id="help-text")
        yield Footer()
