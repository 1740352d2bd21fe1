"""A Footer that skips rebuilding itself when a focus change leaves its keys as they were."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class SteadyFooter(Footer):
    """A Footer that rebuilds its keys only when the keys it shows change.

    Textual's Footer recomposes (a dozen key widgets mounted and styled, then a relayout)
    whenever the screen's bindings may have changed, which includes every focus change.
    Moving focus between widgets whose own bindings are hidden leaves the keys as they are.
    """

    _shown: tuple[object, ...] | None = None

    def _keys_shown(self) -> tuple[object, ...]:
        """What the footer would show: each shown binding, its state and tooltip, and the palette key."""
        active = self.screen.active_bindings
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        shown = tuple((binding, enabled, tooltip) for _, binding, enabled, tooltip in active.values() if binding.show)
        return shown + ((palette.binding, palette.enabled) if palette else (None,))

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._keys_shown()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if self._shown is not None and self._keys_shown() == self._shown:
            return
        super().bindings_changed(screen)
