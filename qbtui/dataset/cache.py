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
from typing import Any, TypeVar

FileKey = tuple[int, int]
T = TypeVar("T")


@dataclass
class FolderMemory:
    """What the cache remembers about one training folder."""

    files: dict[str, tuple[FileKey, dict[str, Any]]] = field(default_factory=dict)
    status_key: tuple[object, ...] | None = None
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

    def get(self, name: str, key: FileKey, fact: str, compute: Callable[[], T]) -> T:
        """The named fact of file `name` at version `key`, computed once per version."""
        facts = self._facts(name, key)
        if fact not in facts:
            facts[fact] = compute()
        value: T = facts[fact]
        return value

    def put(self, name: str, key: FileKey, fact: str, value: object) -> None:
        """Remember a fact computed elsewhere (a parallel batch)."""
        self._facts(name, key).setdefault(fact, value)

    def _facts(self, name: str, key: FileKey) -> dict[str, Any]:
        entry = self.current.get(name)
        if entry is None:
            old = self._old.get(name)
            entry = old if old is not None and old[0] == key else (key, {})
            self.current[name] = entry
        return entry[1]

    def has(self, name: str, key: FileKey, fact: str) -> bool:
        entry = self.current.get(name) or self._old.get(name)
        return entry is not None and entry[0] == key and fact in entry[1]

    def peek(self, name: str, key: FileKey, fact: str) -> Any:
        """The fact if it is known for this version of the file, else None (no computing)."""
        for entry in (self.current.get(name), self._old.get(name)):
            if entry is not None and entry[0] == key and fact in entry[1]:
                return entry[1][fact]
        return None
