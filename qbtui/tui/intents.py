"""What a screen asks the app to do: posted on the screen, they bubble up to the app.

Screens never call the app's methods (they do not import it); the app's `on_*`
handlers run each intent in a worker or show the next screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class StartRun(Message):
    """Start (or queue) a training of a friend."""

    friend_id: str
    preset: str
    backend: str
    force: bool = False
    queue: bool = False


@dataclass
class StopRun(Message):
    run_id: str


@dataclass
class StopFriendRun(Message):
    """Stop the friend's running training, if there is one."""

    friend_id: str


@dataclass
class ResumeRun(Message):
    run_id: str


@dataclass
class CancelQueued(Message):
    run_id: str


@dataclass
class MoveQueued(Message):
    """Move a queued run `offset` places (negative: sooner)."""

    run_id: str
    offset: int


@dataclass
class OpenDataset(Message):
    friend_id: str


@dataclass
class OpenTraining(Message):
    """A friend's Training screen: in place of the current full screen, or `over` it (esc returns)."""

    friend_id: str
    over: bool = False
