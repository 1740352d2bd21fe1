"""Every key of every screen, generated from the BINDINGS and the active keymap."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from qbtui.tui.host import host
from qbtui.tui.widgets.steady_footer import SteadyFooter

SCREENS = (
    ("Everywhere", "qbtui.tui.host", "AppKeys"),
    ("Friends dashboard", "qbtui.tui.screens.dashboard", "DashboardScreen"),
    ("Dataset", "qbtui.tui.screens.dataset", "DatasetScreen"),
    ("Training", "qbtui.tui.screens.training", "TrainingScreen"),
    ("Runs and queue", "qbtui.tui.screens.runs", "RunsScreen"),
    ("Friends table", "qbtui.tui.widgets.friend_table", "FriendTable"),
    ("Add friend", "qbtui.tui.screens.add_friend", "AddFriendScreen"),
    ("Prompt helper", "qbtui.tui.screens.prompt", "PromptScreen"),
    ("Drawings", "qbtui.tui.screens.gallery", "GalleryScreen"),
    ("Tag editor", "qbtui.tui.widgets.tag_editor", "TagEditorScreen"),
    ("Confirm", "qbtui.tui.widgets.dataset_confirm", "ConfirmScreen"),
    ("Unsaved caption", "qbtui.tui.widgets.unsaved_dialog", "UnsavedScreen"),
    ("Notifications log", "qbtui.tui.screens.notices", "NoticesScreen"),
    ("Help", "qbtui.tui.screens.help", "HelpScreen"),
)
KEYS_WIDTH = 16
DOES_WIDTH = 26


def screen_bindings() -> Iterator[tuple[str, list[Binding]]]:
    """(screen title, its bindings) for every screen, read from the classes' BINDINGS."""
    for title, module, name in SCREENS:
        cls = getattr(importlib.import_module(module), name)
        yield title, [binding for entry in cls.BINDINGS for binding in Binding.make_bindings([entry])]


def binding_ids() -> set[str]:
    """Every binding id a `[keymap]` entry can name."""
    return {binding.id for _, bindings in screen_bindings() for binding in bindings if binding.id}


def keys_of(binding: Binding, keymap: dict[str, str]) -> str:
    """The keys that trigger a binding, with the user's keymap applied, as the footer shows them."""
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    return ", ".join(format_key(key.strip()) for key in keys.split(","))


def help_lines(keymap: dict[str, str]) -> list[tuple[str, str]]:
    """The help text as (line, kind) pairs; kind is "title", "heading" or "row"."""
    lines = [
        ("qbtui keys", "title"),
        ("Remap a key by its id under [keymap] in registry.toml,", "row"),
        ('for example "dashboard.train" = "t,ctrl+n";', "row"),
        ("ctrl+p opens the command palette with every action by name.", "row"),
    ]
    for title, bindings in screen_bindings():
        lines.append((title, "heading"))
        for binding in bindings:
            does = binding.description or binding.action.replace("_", " ")
            lines.append((f"  {keys_of(binding, keymap):<{KEYS_WIDTH}}{does:<{DOES_WIDTH}}{binding.id or ''}", "row"))
    return lines


def help_text(keymap: dict[str, str]) -> Text:
    """`help_lines` styled for the screen."""
    text = Text()
    for line, kind in help_lines(keymap):
        style = {"title": "bold", "heading": "bold underline"}.get(kind, "")
        text.append(("\n" if kind == "heading" else "") + line + "\n", style=style)
    return text


class HelpScreen(ModalScreen[None]):
    """The key reference; escape or q closes it."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(help_text(host(self).keymap), id="help-text")
        yield SteadyFooter()
