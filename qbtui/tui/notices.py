"""Every notification the app showed, kept for the notifications log (newest last), and
how a long one is cut down to a toast that fits the screen."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

MAX_NOTICES = 200
TOAST_LINES = 3
TOAST_WIDTH = 56
LOG_POINTER = "… see the log: ctrl+l"


@dataclass(frozen=True)
class Notice:
    """One notification: when, how bad, its title and its whole text."""

    at: float
    severity: str
    title: str
    message: str
    cause: str | None = None  # "registry", "draw": what must be put right for it to be over


class Notices:
    """The notifications shown so far (the last `MAX_NOTICES`)."""

    def __init__(self) -> None:
        self.items: deque[Notice] = deque(maxlen=MAX_NOTICES)
        # Causes whose errors are over (the registry loaded fine again, a draw ran).
        self._resolved: set[str] = set()

    def add(self, message: str, *, severity: str, title: str = "", cause: str | None = None) -> Notice:
        notice = Notice(time.time(), severity, title, message, cause)
        self.items.append(notice)
        if cause is not None:
            self._resolved.discard(cause)
        return notice

    def resolve(self, cause: str) -> None:
        """The errors of `cause` are over: they leave the status line (the log keeps them)."""
        self._resolved.add(cause)

    def last_error(self) -> str | None:
        """The text of the newest error notification whose cause is not over, if any."""
        for notice in reversed(self.items):
            if notice.severity == "error" and notice.cause not in self._resolved:
                return notice.message
        return None


def toast_text(message: str, *, max_lines: int = TOAST_LINES, width: int = TOAST_WIDTH) -> str:
    """`message` cut to `max_lines` lines of about `width` columns, ending with a pointer to the log when cut."""
    lines: list[str] = []
    for paragraph in message.splitlines() or [""]:
        rest = paragraph
        while len(rest) > width:
            cut = rest.rfind(" ", 0, width)
            cut = cut if cut > width // 2 else width
            lines.append(rest[:cut].rstrip())
            rest = rest[cut:].lstrip()
        lines.append(rest)
    if len(lines) <= max_lines:
        return message
    return "\n".join([*lines[: max_lines - 1], LOG_POINTER])
