"""Nothing typed is dropped without asking: quitting or leaving a screen that holds unsaved
text asks Save / Discard / Cancel first.

A screen that can hold unsaved text implements `HoldsUnsaved`; the app calls `ask_before`
on every way out (quit, the palette, screen switches), the screen itself on `escape`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from textual.app import App

from qbtui.tui.widgets.unsaved_dialog import UnsavedScreen


@runtime_checkable
class HoldsUnsaved(Protocol):
    """A screen whose text may not be on disk yet."""

    def unsaved_name(self) -> str | None:
        """What holds unsaved text (a file name), or None when everything is saved."""
        ...

    def save_unsaved(self, then: Callable[[], object]) -> None:
        """Write the text to disk, then call `then` (from the UI thread)."""
        ...

    def discard_unsaved(self) -> None:
        """Drop the text and show what is on disk."""
        ...


def holder_of_unsaved(app: App[Any]) -> HoldsUnsaved | None:
    """The topmost screen that holds unsaved text, if any."""
    for screen in reversed(app.screen_stack):
        if isinstance(screen, HoldsUnsaved) and screen.unsaved_name() is not None:
            return screen
    return None


def ask_before(app: App[Any], proceed: Callable[[], object]) -> None:
    """`proceed()` at once when nothing is unsaved; else ask first (Cancel does not proceed)."""
    holder = holder_of_unsaved(app)
    if holder is None:
        proceed()
    elif not isinstance(app.screen, UnsavedScreen):
        ask(app, holder, proceed)


def ask(app: App[Any], holder: HoldsUnsaved, proceed: Callable[[], object]) -> None:
    """Ask about `holder`'s unsaved text: save then proceed, discard then proceed, or stay."""
    name = holder.unsaved_name() or "the text"

    def answered(answer: str | None) -> None:
        if answer == "save":
            holder.save_unsaved(proceed)
        elif answer == "discard":
            holder.discard_unsaved()
            proceed()

    app.push_screen(UnsavedScreen(name), answered)
