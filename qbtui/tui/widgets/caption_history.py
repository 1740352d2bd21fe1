"""Undo for caption edits: each step remembers every caption file it changed, before and after.

Undo writes the old text back atomically (or removes a caption the step created), but
only where the file still holds what the step wrote: a caption changed since by someone
else is left alone and reported, so undo never destroys a user's later edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qbtui.atomicfile import write_text_atomic
from qbtui.errors import QbtuiError

UNDO_LIMIT = 100


@dataclass(frozen=True)
class CaptionChange:
    """One caption file's text before and after a step (None: the file did not exist)."""

    path: Path
    before: str | None
    after: str | None


@dataclass(frozen=True)
class UndoStep:
    """What one user action did to the captions."""

    label: str
    changes: tuple[CaptionChange, ...]


@dataclass(frozen=True)
class UndoResult:
    """What an undo restored and what it had to leave because the file changed since."""

    label: str
    restored: tuple[Path, ...]
    skipped: tuple[Path, ...] = field(default=())


def read_caption_file(path: Path) -> str | None:
    """A caption's text as stored, or None when there is no file.

    Unlike `qbtui.dataset.read_caption` (which reads a missing file as ""), undo must tell
    a caption that did not exist from an empty one.
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise QbtuiError(f"cannot read caption: {error}", path=path, fix="re-save it as UTF-8 text") from error


class CaptionHistory:
    """A bounded stack of undo steps, newest last."""

    def __init__(self, limit: int = UNDO_LIMIT) -> None:
        self.limit = limit
        self._steps: list[UndoStep] = []

    def __len__(self) -> int:
        return len(self._steps)

    def record(self, label: str, changes: list[CaptionChange] | tuple[CaptionChange, ...]) -> bool:
        """Remember a step; changes that changed nothing are dropped. True when recorded."""
        real = tuple(change for change in changes if change.before != change.after)
        if not real:
            return False
        self._steps.append(UndoStep(label, real))
        del self._steps[: -self.limit]
        return True

    def pop(self) -> UndoStep | None:
        """Take the newest step off the stack (None when there is nothing to undo)."""
        return self._steps.pop() if self._steps else None


def undo_step(step: UndoStep) -> UndoResult:
    """Put every caption of `step` back as it was; blocking file IO, run it in a worker."""
    restored: list[Path] = []
    skipped: list[Path] = []
    for change in reversed(step.changes):
        if read_caption_file(change.path) != change.after:
            skipped.append(change.path)
            continue
        if change.before is None:
            change.path.unlink(missing_ok=True)
        else:
            write_text_atomic(change.path, change.before)
        restored.append(change.path)
    return UndoResult(step.label, tuple(restored), tuple(skipped))
