"""A full disk, in words: which folder, which file, how much room it needed, and what stays."""

from __future__ import annotations

from qbtui.atomicfile import NoSpaceError, format_bytes
from qbtui.errors import QbtuiError


def disk_full_error(error: NoSpaceError, run_id: str) -> QbtuiError:
    """The error a run reports when a file it saves does not fit (earlier saves are whole: they were atomic)."""
    return QbtuiError(
        f"the disk is full: {error}",
        path=error.path.parent,
        fix=(
            f"make room for {format_bytes(error.needed)} in {error.path.parent}, then `qbtui resume {run_id}` "
            "continues from the last saved state (the checkpoints and state saved so far are kept)"
        ),
    )
