"""Type-ahead: keys typed while a dialog or screen opens reach its first field.

A laggy SSH link delivers `a` and `Zoe` in one burst. The app forwards all four keys to
the dashboard's table before `a` has opened the Add dialog; `Z`, `o` and `e` then bubble
back to the app unhandled, when the dialog is already shown, and Textual dropped them.
`TypedOn` remembers which screen each key was typed on, so the app can type such a stray
key again on the screen now shown; a screen with `TypeAhead` hands the keys that reach
it before any field has focus to its `FIRST_FIELD`, in order, and focuses it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, TypeVar

from textual import events
from textual.screen import Screen
from textual.widget import Widget

# Keys in flight at once: a burst is a few dozen at most; older entries are forgotten.
REMEMBERED_KEYS = 256

ResultT = TypeVar("ResultT")


class TypedOn:
    """Which screen each key in flight was typed on."""

    def __init__(self) -> None:
        self._screens: OrderedDict[int, Screen[Any]] = OrderedDict()

    def typed(self, event: events.Key, screen: Screen[Any]) -> None:
        """`event` arrived from the terminal while `screen` was shown."""
        self._screens[id(event)] = screen
        while len(self._screens) > REMEMBERED_KEYS:
            self._screens.popitem(last=False)

    def strayed(self, event: events.Key, screen: Screen[Any]) -> bool:
        """Whether `event`, back unhandled, is a printable key typed on another screen than `screen`."""
        typed_on = self._screens.pop(id(event), None)
        return typed_on is not None and typed_on is not screen and event.is_printable


def retype(screen: Screen[Any], event: events.Key) -> None:
    """Type `event` again on `screen`: to its focused widget, else to the screen itself."""
    target: Widget = screen.focused or screen
    target.post_message(events.Key(event.key, event.character))


class TypeAhead(Screen[ResultT]):
    """A screen whose printable keys that reach the screen itself go to `FIRST_FIELD`."""

    FIRST_FIELD = ""

    def on_key(self, event: events.Key) -> None:
        """A printable key here was not taken by a text field: it came before any had focus."""
        if not (self.FIRST_FIELD and event.is_printable):
            return
        field = self.query_one(self.FIRST_FIELD, Widget)
        if self.focused not in (None, field):
            return
        event.stop()
        event.prevent_default()
        self.set_focus(field)
        field.post_message(events.Key(event.key, event.character))
