"""The workspace's callbacks as the app's messages: the one place the model meets Textual.

`MessageRelay(post)` is the `WorkspaceListener` the app starts the workspace with; `post`
is `App.post_message`, safe to call from the watcher's and the poller's threads.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from qbtui.tui.messages import FriendChanged, RegistryChanged, RegistryHealth, RunsUpdated, RunWarnings, WorkspaceError


class MessageRelay:
    """Posts one message per workspace callback."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self.post = post

    def friend_changed(self, friend_id: str) -> None:
        self.post(FriendChanged(friend_id))

    def registry_changed(self) -> None:
        self.post(RegistryChanged())

    def registry_health(self, problem: str | None) -> None:
        self.post(RegistryHealth(problem))

    def runs_updated(self, run_ids: tuple[str, ...]) -> None:
        self.post(RunsUpdated(run_ids))

    def run_warnings(self, new: tuple[str, ...]) -> None:
        self.post(RunWarnings(new))

    def error(self, text: str, cause: str | None = None) -> None:
        self.post(WorkspaceError(text, cause))
