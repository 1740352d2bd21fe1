"""One of prep's render workers: `python -m qbtui.dataset.prep_worker PARENT_PID`.

Reads photo paths (each with its face crop, if any) from stdin and writes the prepared JPEG (or why it failed) to stdout,
each framed as a 4-byte big-endian length and the bytes; a reply starts with `o` (ok,
JPEG bytes follow) or `e` (error text follows). It never outlives its parent: end of
stdin ends it, on Linux the kernel kills it when the parent dies (PR_SET_PDEATHSIG), and
elsewhere a watchdog thread notices the parent's pid is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import sys
import threading
import time
from pathlib import Path
from typing import IO, BinaryIO

from qbtui.dataset.render import render_prepared_jpeg

HEADER = struct.Struct(">I")
OK, FAILED = b"o", b"e"
PR_SET_PDEATHSIG = 1
WATCHDOG_PERIOD_S = 0.5


def render_or_error(path: Path, frame: tuple[int, int, int, int] | None = None) -> bytes | str:
    """The prepared JPEG, or why this one file could not be converted (it is then skipped)."""
    try:
        return render_prepared_jpeg(path, frame)
    except Exception as error:  # noqa: BLE001 (any decoder failure skips this one photo)
        return f"{type(error).__name__}: {error}"


def encode_request(path: Path, frame: tuple[int, int, int, int] | None) -> bytes:
    """A request: the path's bytes, then, for a face crop, NUL and "left,top,right,bottom"."""
    data = os.fsencode(path)
    return data if frame is None else data + b"\0" + ",".join(map(str, frame)).encode()


def decode_request(data: bytes) -> tuple[Path, tuple[int, int, int, int] | None]:
    path, _, frame = data.partition(b"\0")
    box = tuple(int(value) for value in frame.split(b",")) if frame else None
    return Path(os.fsdecode(path)), box  # type: ignore[return-value]


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(HEADER.pack(len(data)))
    stream.write(data)


def read_frame(stream: IO[bytes]) -> bytes | None:
    """One framed message, or None at end of stream (also when cut short)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as `parent_pid` is no longer its parent."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_PERIOD_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer every framed path until the requests end."""
    while (request := read_frame(requests)) is not None:
        result = render_or_error(*decode_request(request))
        if isinstance(result, bytes):
            replies.write(OK)
            write_frame(replies, result)
        else:
            replies.write(FAILED)
            write_frame(replies, result.encode("utf-8", "replace"))
        replies.flush()


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[1]))
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
