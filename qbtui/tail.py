"""Following files that grow: new bytes only, and text split into lines as terminals show them.

One mechanism for every follower of a run directory: `EventFollower` (events.jsonl),
the kohya output parser (the backend's pipe), `qbtui logs --raw` and the dashboard's log
tail (output.log).
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from pathlib import Path
from stat import S_ISREG

from qbtui.safefile import open_regular

READ_CHUNK = 4 << 20
_LINE_END = re.compile(r"\r\n|\r|\n")


class GrowingFile:
    """Yields only the bytes appended since the last read.

    A file that shrank or was replaced (new inode) is read again from the start, and
    `restarted` says so, so a reader can drop what it kept of the old file.
    """

    def __init__(self, path: Path | str, offset: int = 0):
        self.path = Path(path)
        self.offset = offset
        self.restarted = False
        self._inode: int | None = None

    def read_chunks(self) -> Iterator[bytes]:
        """The new bytes, in chunks of at most READ_CHUNK (none when nothing changed).

        `restarted` is settled when this returns, before the first chunk is read.
        """
        self.restarted = False
        try:
            stat = os.stat(self.path)
        except OSError:  # missing, or a link loop: nothing to read yet
            return iter(())
        if not S_ISREG(stat.st_mode):  # a FIFO or a folder in its place: nothing to read, never a wait
            return iter(())
        replaced = self._inode is not None and stat.st_ino != self._inode
        if replaced or stat.st_size < self.offset:
            self.offset, self.restarted = 0, True
        self._inode = stat.st_ino
        if stat.st_size == self.offset:
            return iter(())
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        with open_regular(self.path) as handle:
            handle.seek(self.offset)
            while data := handle.read(READ_CHUNK):
                self.offset += len(data)
                yield data

    def read_new(self) -> bytes:
        """All new bytes at once."""
        return b"".join(self.read_chunks())


class TextLines:
    """Turns a byte or text stream into lines, ending a line at `\\r`, `\\n` or `\\r\\n`.

    tqdm redraws its bar with carriage returns, so each redraw is a line of its own. A
    partial line waits for the rest, and a UTF-8 character cut between two chunks is
    decoded whole.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes | str) -> list[str]:
        """The lines `data` completes."""
        text = self._partial + (self._decoder.decode(data) if isinstance(data, bytes) else data)
        lines = _LINE_END.split(text)
        self._partial = lines.pop()
        return lines

    def finish(self) -> str:
        """What is left after the stream ended: a last line without a line end."""
        line = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        return line

    def reset(self) -> None:
        """Forget a partial line (its file was replaced)."""
        self._decoder.reset()
        self._partial = ""


class LogTail:
    """The non-blank lines a growing log file gained since the last call."""

    def __init__(self, path: Path | str):
        self.file = GrowingFile(path)
        self.lines = TextLines()

    def read_new(self) -> list[str]:
        chunks = self.file.read_chunks()
        if self.file.restarted:
            self.lines.reset()
        new: list[str] = []
        for data in chunks:
            new.extend(line for line in self.lines.feed(data) if line.strip())
        return new
