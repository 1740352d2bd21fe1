"""The Dataset screen's undo stack: the undo records of its edits, newest last.

The records and how to apply them back live in `qbtui.dataset.edits`; this only
remembers them, bounded.
"""

from __future__ import annotations

from qbtui.dataset.edits import UndoRecord

UNDO_LIMIT = 100


class CaptionHistory:
    """A bounded stack of undo records, newest last; records that changed nothing are dropped."""

    def __init__(self, limit: int = UNDO_LIMIT) -> None:
        self.limit = limit
        self._records: list[UndoRecord] = []

    def __len__(self) -> int:
        return len(self._records)

    def record(self, undo: UndoRecord) -> bool:
        """Remember an edit's undo record; True when it had something to undo."""
        if not undo:
            return False
        self._records.append(undo)
        del self._records[: -self.limit]
        return True

    def pop(self) -> UndoRecord | None:
        """Take the newest record off the stack (None when there is nothing to undo)."""
        return self._records.pop() if self._records else None
