"""A RichLog that wraps its lines again when its width changes.

RichLog wraps each line once, at the width it has when the line is written; a log filled
before its pane reached its real width (or after a resize) kept wrapping at the old one.
This one keeps the texts it was given (as many as `max_lines`) and writes them again at
the new width.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog


class ReflowLog(RichLog):
    """A wrapping log whose lines follow its width."""

    def __init__(self, *, max_lines: int, **kwargs) -> None:
        super().__init__(max_lines=max_lines, wrap=True, **kwargs)
        self._texts: deque[Text] = deque(maxlen=max_lines)
        self._wrapped_at = 0

    def add(self, text: Text) -> None:
        """Write one line (kept to be wrapped again after a resize)."""
        self._texts.append(text)
        self.write(text)

    def reset(self) -> None:
        """Forget every line."""
        self._texts.clear()
        self.clear()

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if self._wrapped_at and width != self._wrapped_at and self._texts:
            self.clear()
            for text in self._texts:
                self.write(text)
        self._wrapped_at = width
