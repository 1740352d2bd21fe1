"""Watch the friends' folders and the registry file; report debounced changes.

A watchdog observer watches `datasets_dir` recursively (or, until it exists, its
nearest existing parent) and the registry file's folder. Bursts of events (a camera
roll copied in, an editor's save-via-rename) become one `on_friend_changed(friend_id)`
per friend once the folder has been quiet for `quiet` seconds (or `max_wait` after the
first event of a long burst), and one `on_registry_changed()`. Reads (open/close
without write), dotfiles, qbtui's temp files and `.lock` files are ignored, so the
scans that follow a notice do not cause new ones. Callbacks run on the watcher's
dispatch thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from qbtui.atomicfile import is_temp_file
from qbtui.registry import Friend, Settings

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers.api import BaseObserver, ObservedWatch

log = logging.getLogger(__name__)

QUIET_SECONDS = 0.15
MAX_WAIT_SECONDS = 1.0
READ_ONLY_EVENTS = frozenset({"opened", "closed_no_write"})


def _absolute(path: Path | str) -> str:
    return os.path.abspath(os.fspath(path))


def _nearest_existing(path: str) -> str:
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            return path
        path = parent
    return path


class DatasetWatcher:
    """Debounced change notices for friends' dataset folders and the registry file."""

    def __init__(
        self,
        registry_path: Path | str,
        settings: Settings,
        friends: Iterable[Friend | str],
        on_friend_changed: Callable[[str], None],
        on_registry_changed: Callable[[], None],
        *,
        quiet: float = QUIET_SECONDS,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self.registry_path = _absolute(registry_path)
        self.datasets_dir = _absolute(settings.datasets_dir)
        self.on_friend_changed = on_friend_changed
        self.on_registry_changed = on_registry_changed
        self.quiet = quiet
        self.max_wait = max_wait
        self._friend_ids = self._ids(friends)
        self._condition = threading.Condition()
        self._pending: set[str] = set()
        self._registry_pending = False
        self._rewatch = False
        self._first_at: float | None = None
        self._last_at = 0.0
        self._stopping = False
        self._observer: BaseObserver | None = None
        self._watches: dict[tuple[str, bool], ObservedWatch] = {}
        self._dispatcher: threading.Thread | None = None

    @staticmethod
    def _ids(friends: Iterable[Friend | str]) -> frozenset[str]:
        return frozenset(friend if isinstance(friend, str) else friend.id for friend in friends)

    def watch_friends(self, friends: Iterable[Friend | str]) -> None:
        """Replace the set of friends reported (after a registry reload)."""
        self._friend_ids = self._ids(friends)
        self._request_rewatch()

    def start(self) -> None:
        """Start watching; callbacks begin on a background thread."""
        from watchdog.observers import Observer

        observer = Observer()
        observer.daemon = True
        self._observer = observer
        self._sync_watches()
        observer.start()
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="qbtui-dataset-watch", daemon=True)
        self._dispatcher.start()

    def stop(self) -> None:
        """Stop watching and wait for the threads to end."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
            self._dispatcher.join(timeout=5)

    def __enter__(self) -> DatasetWatcher:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _desired_watches(self) -> set[tuple[str, bool]]:
        desired = {(_nearest_existing(os.path.dirname(self.registry_path)), False)}
        if os.path.isdir(self.datasets_dir):
            desired.add((self.datasets_dir, True))
        else:
            desired.add((_nearest_existing(self.datasets_dir), False))
        return desired

    def _sync_watches(self) -> None:
        """Schedule what should be watched now; newly watched datasets count as changed."""
        desired = self._desired_watches()
        assert self._observer is not None, "start() first"
        newly_watching_datasets = (self.datasets_dir, True) in desired and (self.datasets_dir, True) not in self._watches
        for key in set(self._watches) - desired:
            self._observer.unschedule(self._watches.pop(key))
        # watchdog only ever calls dispatch(); the handler stays duck-typed so watchdog loads on start().
        handler = cast("FileSystemEventHandler", _EventHandler(self))
        for path, recursive in desired - set(self._watches):
            try:
                self._watches[(path, recursive)] = self._observer.schedule(handler, path, recursive=recursive)
            except OSError as error:
                log.warning("cannot watch %s: %s", path, error)
        if newly_watching_datasets and self._dispatcher is not None:
            with self._condition:
                existing = {fid for fid in self._friend_ids if os.path.isdir(os.path.join(self.datasets_dir, fid))}
                self._pending |= existing

    def _request_rewatch(self) -> None:
        with self._condition:
            self._rewatch = True
            self._condition.notify_all()

    def note_paths(self, paths: Iterable[str]) -> None:
        """Classify the paths of one file event and queue the notices they call for."""
        friends: set[str] = set()
        registry = False
        rewatch = False
        for path in paths:
            if path == self.registry_path:
                registry = True
                continue
            relative = os.path.relpath(path, self.datasets_dir)
            if relative.startswith(os.pardir) or relative == os.curdir:
                rewatch = rewatch or (self.datasets_dir, True) not in self._watches
                continue
            parts = relative.split(os.sep)
            name = parts[-1]
            if any(part.startswith(".") for part in parts) or is_temp_file(name) or name.endswith(".lock"):
                continue
            if parts[0] in self._friend_ids:
                friends.add(parts[0])
        if not (friends or registry or rewatch):
            return
        with self._condition:
            now = time.monotonic()
            self._pending |= friends
            self._registry_pending = self._registry_pending or registry
            self._rewatch = self._rewatch or rewatch
            if self._first_at is None:
                self._first_at = now
            self._last_at = now
            self._condition.notify_all()

    def _dispatch_loop(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and not (self._pending or self._registry_pending or self._rewatch):
                    self._condition.wait()
                if self._stopping:
                    return
                if self._first_at is not None:
                    deadline = min(self._last_at + self.quiet, self._first_at + self.max_wait)
                    remaining = deadline - time.monotonic()
                    if remaining > 0:
                        self._condition.wait(remaining)
                        continue
                friends, self._pending = self._pending, set()
                registry, self._registry_pending = self._registry_pending, False
                rewatch, self._rewatch = self._rewatch, False
                self._first_at = None
            if rewatch:
                self._sync_watches()
            self._notify(sorted(friends), registry)

    def _notify(self, friends: list[str], registry: bool) -> None:
        for friend_id in friends:
            try:
                self.on_friend_changed(friend_id)
            except Exception:
                log.exception("on_friend_changed(%s) failed", friend_id)
        if registry:
            try:
                self.on_registry_changed()
            except Exception:
                log.exception("on_registry_changed failed")


class _EventHandler:
    """Feeds watchdog events into the watcher (duck-typed: watchdog only calls dispatch)."""

    def __init__(self, watcher: DatasetWatcher) -> None:
        self.watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        if event.event_type in READ_ONLY_EVENTS or (event.is_directory and event.event_type == "modified"):
            return
        paths = [os.fsdecode(event.src_path)]
        destination = getattr(event, "dest_path", "")
        if destination:
            paths.append(os.fsdecode(destination))
        self.watcher.note_paths(paths)
