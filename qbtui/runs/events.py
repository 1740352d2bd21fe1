"""The event stream both backends write: one JSON object a line in `events.jsonl`.

Every event is a plain dict with `"t"` (unix time) and `"type"`; the fields each type
must carry are in `REQUIRED_FIELDS`. Writers append whole lines with one `write()` on an
`O_APPEND` descriptor, so the trainer and the supervisor can share one file.
`EventFollower` reads only the bytes added since its last call.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from qbtui.runs.tail import GrowingFile

Event = dict[str, Any]

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "start": ("run_id", "friend", "backend", "max_steps"),
    "step": ("step",),
    "checkpoint": ("path",),
    "sample": ("path",),
    "warning": ("message",),
    "error": ("message",),
    "done": ("status",),
    "supervisor": ("state",),
}
DONE_STATUSES = ("completed", "stopped", "failed")
SUPERVISOR_STATES = ("started", "backend-exited", "crashed")


class EventError(ValueError):
    """A line of events.jsonl that is not a valid event."""


def make_event(kind: str, **fields: Any) -> Event:
    """A validated event of type `kind`, stamped with the current time."""
    return validate_event({"t": time.time(), "type": kind, **fields})


def validate_event(event: Any) -> Event:
    """Return `event` when it follows the schema, else raise EventError saying why."""
    if not isinstance(event, dict):
        raise EventError(f"an event must be a JSON object, not {type(event).__name__}")
    kind = event.get("type")
    if kind not in REQUIRED_FIELDS:
        raise EventError(f"unknown event type {kind!r}")
    if not isinstance(event.get("t"), (int, float)) or isinstance(event.get("t"), bool):
        raise EventError(f"{kind} event has no numeric time 't'")
    missing = [name for name in REQUIRED_FIELDS[kind] if name not in event]
    if missing:
        raise EventError(f"{kind} event is missing {', '.join(missing)}")
    if kind == "step" and not isinstance(event["step"], int):
        raise EventError(f"step event has a non-integer step {event['step']!r}")
    if kind == "done" and event["status"] not in DONE_STATUSES:
        raise EventError(f"done event has an unknown status {event['status']!r}")
    if kind == "supervisor" and event["state"] not in SUPERVISOR_STATES:
        raise EventError(f"supervisor event has an unknown state {event['state']!r}")
    return event


def parse_event(line: str | bytes) -> Event:
    """One line of events.jsonl as a validated event."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError) as error:
        raise EventError(f"not JSON: {error}") from None
    return validate_event(event)


def encode_event(event: Event) -> bytes:
    """The line (with its newline) that stores `event`; NaN and infinity become null."""
    clean = {key: _json_number(value) for key, value in event.items()}
    return (json.dumps(clean, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def _json_number(value: Any) -> Any:
    """Non-finite floats (a NaN loss) as null, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class EventWriter:
    """Appends events to a file, one `write()` per line, visible to readers at once."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, kind: str, **fields: Any) -> Event:
        """Validate, stamp and append one event; returns it."""
        event = make_event(kind, **fields)
        os.write(self._fd, encode_event(event))
        return event

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventFollower:
    """Tails an events file from a byte offset, returning only whole new lines.

    A line still being written (no newline yet) is kept until it is complete; a file
    that shrank or was replaced (new inode) is read again from the start. Lines that are not valid
    events are counted in `invalid_lines` and skipped.
    """

    def __init__(self, path: Path | str, offset: int = 0):
        self.path = Path(path)
        self.invalid_lines = 0
        self._file = GrowingFile(self.path, offset)
        self._partial = b""

    @property
    def offset(self) -> int:
        """Byte offset read up to (a half-written last line included)."""
        return self._file.offset

    @property
    def line_offset(self) -> int:
        """Byte offset just after the last whole line returned (a safe place to restart)."""
        return self.offset - len(self._partial)

    def read_new(self) -> list[Event]:
        """Events appended since the previous call (an empty list when nothing changed)."""
        chunks = self._file.read_chunks()
        if self._file.restarted:
            self._partial = b""
        events: list[Event] = []
        for data in chunks:
            events.extend(self._split(data))
        return events

    def _split(self, data: bytes) -> list[Event]:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                events.append(parse_event(line))
            except EventError:
                self.invalid_lines += 1
        return events


def read_events(path: Path | str) -> list[Event]:
    """Every valid event of a file (a fresh follower's first read)."""
    return EventFollower(path).read_new()
