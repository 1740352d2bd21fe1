"""Before a command changes a friend's files: the folders are theirs and can be written.

A training folder that is a link to a folder elsewhere (`ln -s ~/Pictures .../30_lib`) is
refused: prep would move the user's originals out of it and write into it. A folder
without write permission is refused up front rather than failing half way.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from qbtui.dataset.problems import make_problem
from qbtui.dataset.scan import folder_outside_problem
from qbtui.errors import QbtuiError
from qbtui.mounts import make_writable_fix
from qbtui.registry import Friend, Settings, friend_root


def is_writable(folder: Path) -> bool:
    """True when `folder` has a write permission bit and this process may write it."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(folder, os.W_OK | os.X_OK)


def unwritable_error(folder: Path, friend_id: str) -> QbtuiError:
    """The clear error for a folder qbtui needs to write but may not."""
    problem = make_problem("folder-unwritable", "the folder is read-only; nothing was changed", folder, friend_id)
    return QbtuiError(problem.message, path=folder, fix=f"{make_writable_fix(folder)}, then run the command again")


def check_inside(settings: Settings, friend: Friend, folder: Path) -> None:
    """QbtuiError when the training folder is a link resolving outside the friend's folder."""
    outside = folder_outside_problem(settings, friend, folder)
    if outside is not None:
        raise QbtuiError(outside.message.removeprefix(f"{folder}: "), path=folder, fix=outside.fix)


def check_can_change(settings: Settings, friend: Friend, folder: Path, *, originals: bool = True) -> None:
    """QbtuiError unless the training folder `folder` (and, for `originals`, the friend's
    folder, which holds originals/ and the prep lock) may be changed."""
    check_inside(settings, friend, folder)
    for needed in (folder, friend_root(settings, friend)) if originals else (folder,):
        if not is_writable(needed):
            raise unwritable_error(needed, friend.id)
