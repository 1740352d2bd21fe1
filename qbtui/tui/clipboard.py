"""Whether a copy (`ctrl+y`, sent to the terminal as OSC 52) can reach the clipboard.

Inside tmux it arrives only with `set-clipboard on`: tmux's default (`external`) keeps
the application's copy in tmux's own buffer. The app says so once, after the first copy.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping

TMUX_CLIPBOARD_QUERY = ("tmux", "show-options", "-gv", "set-clipboard")
TMUX_QUERY_TIMEOUT = 1.0
# Short enough for a toast at 80 columns (two lines): the command is what matters.
TMUX_CLIPBOARD_HINT = "tmux keeps this copy: run `tmux set -g set-clipboard on`"


def tmux_keeps_copies(
    environ: Mapping[str, str] = os.environ, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
) -> bool:
    """True inside tmux unless its `set-clipboard` option is `on` (also when tmux cannot be asked)."""
    if not environ.get("TMUX"):
        return False
    try:
        shown = run(list(TMUX_CLIPBOARD_QUERY), capture_output=True, text=True, timeout=TMUX_QUERY_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return True
    return shown.stdout.strip() != "on"
