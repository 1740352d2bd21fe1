"""Messages the app posts to its screens when the world changes.

Posted from watcher and poller threads with `post_message` (thread-safe); bursts of the
same kind collapse through `can_replace`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class FriendChanged(Message):
    """Files of one friend's dataset changed on disk."""

    friend_id: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FriendChanged) and message.friend_id == self.friend_id


@dataclass
class RegistryChanged(Message):
    """registry.toml changed on disk and was reloaded."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RegistryChanged)


@dataclass
class RunsUpdated(Message):
    """New events arrived for one or more runs; the app's run snapshots are current."""

    run_ids: tuple[str, ...]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunsUpdated)
