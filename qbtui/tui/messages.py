"""Messages the app posts to its screens when the world changes.

Posted from watcher and poller threads with `post_message` (thread-safe); bursts of the
same kind collapse through `can_replace`. They do not bubble: the app receives them from
the workspace and forwards each to the active screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class FriendChanged(Message, bubble=False):
    """Files of one friend's dataset changed on disk; the workspace holds the new status."""

    friend_id: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FriendChanged) and message.friend_id == self.friend_id


@dataclass
class RegistryChanged(Message, bubble=False):
    """registry.toml changed (on disk or through the app) and was reloaded."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RegistryChanged)


@dataclass
class RunsUpdated(Message, bubble=False):
    """New events arrived for one or more runs; the app's run snapshots are current."""

    run_ids: tuple[str, ...]

    def can_replace(self, message: Message) -> bool:
        """Let a newer RunsUpdated supersede this one; it takes over these run ids too."""
        if not isinstance(message, RunsUpdated):
            return False
        message.run_ids = tuple(sorted(set(self.run_ids) | set(message.run_ids)))
        return True


@dataclass
class RunWarnings(Message, bubble=False):
    """What the listing of runs warns of changed (`Workspace.run_warnings()`); `new`: the warnings
    it did not have before, each to be told once."""

    new: tuple[str, ...]

    def can_replace(self, message: Message) -> bool:
        """Let a newer RunWarnings supersede this one; it takes over these new warnings too."""
        if not isinstance(message, RunWarnings):
            return False
        message.new = tuple(dict.fromkeys(message.new + self.new))
        return True


@dataclass
class WorkspaceError(Message, bubble=False):
    """A background refresh failed; `text` is the QbtuiError text with its fix; `cause`:
    "registry" when registry.toml failed to load (see Notices.resolve)."""

    text: str
    cause: str | None = None


@dataclass
class RegistryHealth(Message, bubble=False):
    """registry.toml turned bad (`problem`: `registry.toml:12 what is wrong`) or good again (None)."""

    problem: str | None


@dataclass
class StatusChanged(Message, bubble=False):
    """Something the status line shows changed (a notice, the registry's health)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusChanged)
