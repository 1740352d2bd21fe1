"""Memory of earlier scans, so a rescan of an unchanged dataset costs a directory listing.

Per file, results are reused while the file's size and mtime_ns stay the same. Per
folder, the whole FriendStatus is reused while the listing (names, sizes, mtimes) and
the friend's token and repeats are unchanged. Safe to share between threads: the worst
a race does is compute one entry twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FileKey = tuple[int, int]


@dataclass
class FolderMemory:
    """What the cache remembers about one training folder."""

    files: dict[str, tuple[FileKey, dict[str, Any]]] = field(default_factory=dict)
    status_key: tuple | None = None
    status: Any = None


class ScanCache:
    """Scan results keyed by path + size + mtime_ns; pass one instance to every scan."""

    def __init__(self) -> None:
        self._folders: dict[Path, FolderMemory] = {}

    def folder(self, folder: Path) -> FolderMemory:
        """The memory of one folder, created empty on first use."""
        return self._folders.setdefault(folder, FolderMemory())


class FileFacts:
    """Lazily computed facts of the files in one folder listing, reusing a FolderMemory."""

    def __init__(self, memory: FolderMemory | None) -> None:
        self._old = memory.files if memory is not None else {}
        self.current: dict[str, tuple[FileKey, dict[str, Any]]] = {}

    def get(self, name: str, key: FileKey, fact: str, compute: Callable[[], Any]) -> Any:
        """The named fact of file `name` at version `key`, computed once per version."""
        entry = self.current.get(name)
        if entry is None:
            old = self._old.get(name)
            entry = old if old is not None and old[0] == key else (key, {})
            self.current[name] = entry
        facts = entry[1]
        if fact not in facts:
            facts[fact] = compute()
        return facts[fact]

    def has(self, name: str, key: FileKey, fact: str) -> bool:
        entry = self.current.get(name) or self._old.get(name)
        return entry is not None and entry[0] == key and fact in entry[1]

    def peek(self, name: str, key: FileKey, fact: str) -> Any:
        """The fact if it is known for this version of the file, else None (no computing)."""
        for entry in (self.current.get(name), self._old.get(name)):
            if entry is not None and entry[0] == key and fact in entry[1]:
                return entry[1][fact]
        return None
