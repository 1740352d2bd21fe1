"""The one exception type users see: what failed, where, and how to fix it."""

from __future__ import annotations

from pathlib import Path

from qbtui.printable import printable


class QbtuiError(Exception):
    """An error with the file it concerns and the fix, printed without a traceback."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None, fix: str | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.fix = fix
        super().__init__(self.describe())

    def describe(self, *, where_from: bool = True, file_name_only: bool = False) -> str:
        """`path:line: message` followed by `fix: ...` when there is one; without the path
        when `where_from` is false, or with the file's name alone for `file_name_only` (a
        dialog too narrow for a long path); control characters in any part (a file name's
        escape sequence) are shown as visible escapes; the message's own line breaks stay (a
        name embedded in it is escaped where the message is composed)."""
        where = ""
        if where_from and self.path is not None:
            shown = printable(self.path.name if file_name_only else self.path)
            where = f"{shown}:{self.line}: " if self.line else f"{shown}: "
        text = f"{where}{printable(self.message, keep_newlines=True)}"
        if self.fix:
            text += f"\n  fix: {printable(self.fix, keep_newlines=True)}"
        return text
