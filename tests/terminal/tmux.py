"""The real `qbtui` in a real terminal: tmux on a throwaway server, driven like a person.

Pilot runs the app in-process with no real terminal and no real stderr; this harness
runs `python -m qbtui` in tmux at a fixed size, so escape sequences, the real stderr, the
process's own start-up path and its files are what a user has.

    term = qbtui_terminal(registry_path)           # fixture: starts at 80x24
    term.wait_for("Ben")                           # a text on screen, or a predicate
    term.send("d")                                 # tmux key names: "Enter", "Escape", "C-s", "Down"
    term.type("Dora")                              # literal text
    term.send("D", "o", "r", "a", "Tab")           # several keys in ONE send-keys call (fast typing)
    print(term.screen())                           # what the pane shows now
    term.exited                                    # the process ended (the pane is kept to read it)

Each terminal has its own tmux server (`tmux -L <unique name>`), killed at teardown.
The pane is kept after the process ends (`remain-on-exit`), so a traceback printed on the
way out can still be read with `screen()`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT = 60.0
_names = itertools.count()


def tmux_binary() -> str:
    """The tmux executable; a clear failure (not a skip) where it is missing."""
    found = shutil.which("tmux")
    if found is None:
        raise RuntimeError("tmux is not installed: `apt-get install tmux` (the CI script .ci/run installs it)")
    return found


class QbtuiTerminal:
    """One tmux server with one pane running a command at a fixed size."""

    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.width = width
        self.height = height
        self.server = f"qbtui-test-{os.getpid()}-{next(_names)}"
        self.target = "qbtui:0.0"
        self._tmux = tmux_binary()

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one tmux command against this terminal's own server."""
        return subprocess.run([self._tmux, "-L", self.server, *args], capture_output=True, text=True, check=check)

    def start(self, argv: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> QbtuiTerminal:
        """Start `argv` in a new detached session of the given size."""
        environment = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH", "")]))
        # the pane's size is the terminal's: a parent's COLUMNS/LINES (pytest-xdist's workers set 80x24) would override it
        for name in ("TMUX", "COLUMNS", "LINES"):
            environment.pop(name, None)
        flags = [arg for key, value in environment.items() if key in _PASSED for arg in ("-e", f"{key}={value}")]
        subprocess.run(
            [self._tmux, "-L", self.server, "-f", os.devnull, "new-session", "-d", "-s", "qbtui",
             "-x", str(self.width), "-y", str(self.height), *flags, "-c", str(cwd or REPO), "--", *argv],
            env=environment, check=True, capture_output=True, text=True,
        )  # fmt: skip
        self.tmux("set-option", "-t", "qbtui", "remain-on-exit", "on")
        self.tmux("set-option", "-t", "qbtui", "window-size", "manual")
        self.tmux("resize-window", "-t", "qbtui", "-x", str(self.width), "-y", str(self.height))
        return self

    def send(self, *keys: str) -> None:
        """Press keys (tmux key names), all in one `send-keys` call, as fast as a terminal takes them."""
        self.tmux("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        """Type literal text in one go."""
        self.tmux("send-keys", "-t", self.target, "-l", text)

    def screen(self) -> str:
        """The pane's text now, one line per row, trailing spaces removed."""
        shown = self.tmux("capture-pane", "-p", "-t", self.target).stdout
        return "\n".join(line.rstrip() for line in shown.splitlines())

    @property
    def exited(self) -> bool:
        """Whether the command in the pane has ended."""
        shown = self.tmux("display-message", "-p", "-t", self.target, "#{pane_dead}", check=False).stdout
        return shown.strip() == "1"

    def wait_for(self, expected: str | Callable[[str], bool], timeout: float = DEFAULT_TIMEOUT) -> str:
        """Until the screen shows `expected` (a text, or a predicate on the screen); returns the screen."""
        check = expected if callable(expected) else (lambda screen: expected in screen)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                what = expected if isinstance(expected, str) else getattr(expected, "__name__", "condition")
                raise AssertionError(f"{what!r} not on screen after {timeout:.0f} s; the screen:\n{screen}")
            time.sleep(0.1)

    def wait_until(self, condition: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT) -> None:
        """Until `condition()` holds (files written by the app, a process ended)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached after {timeout:.0f} s; the screen:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        """Kill this terminal's tmux server and everything in it."""
        self.tmux("kill-server", check=False)


# Environment variables the pane's process needs (tmux gives a new session the server's
# global environment, which is the first client's; pass these explicitly to be sure).
_PASSED = ("TERM", "PYTHONPATH", "QBTUI_CONFIG_DIR", "QBTUI_REGISTRY", "HOME", "PATH", "LANG", "LC_ALL")


def qbtui_argv(registry: Path, *args: str) -> list[str]:
    """The command line of the real dashboard on `registry` (this checkout's code)."""
    return [sys.executable, "-m", "qbtui", "--registry", str(registry), *args]
