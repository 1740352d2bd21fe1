"""The event stream both backends write: one JSON object a line in `events.jsonl`.

Every event is a plain dict with `"t"` (unix time) and `"type"`; the fields each type
must carry are in `REQUIRED_FIELDS`, the type of every known field in `FIELD_KINDS`, so a
reader can use an event's fields without checking them again. Writers append whole lines with one `write()` on an
`O_APPEND` descriptor, so the trainer and the supervisor can share one file.
`EventFollower` reads only the bytes added since its last call.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

from qbtui.tail import GrowingFile

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
    "eval": ("stage",),
    # One LoRA at one weight scored while training (weight 0: the base model), with the best cell so far.
    "likeness": ("step", "weight", "samples"),
}
DONE_STATUSES = ("completed", "stopped", "failed")
SUPERVISOR_STATES = ("started", "backend-exited", "crashed")
# Unix times qbtui can show as a date (up to the year 5138).
MAX_TIME = 1e11
MAX_COUNT = 2**63
MAX_REPR = 60
# A likeness evaluation: what it samples, progress per image, one score per cell, the result (or why it was skipped).
# `scoring`: samples drawn so far at a checkpoint during training (step, done, total, eta_s of the scoring left).
# `chosen`: the choice so far, at `done` and after each final cell (`qbtui.likeness.standing`; pending: final cells left).
EVAL_STAGES = ("plan", "sample", "cell", "result", "skipped", "started", "checkpoint", "scoring", "chosen")


class EventError(ValueError):
    """A line of events.jsonl that is not a valid event."""


def _is_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON `"\\ud800"`) cannot be printed or stored
        return False
    return True


def _is_path(value: Any) -> bool:
    return _is_text(value) and value != "" and "\0" not in value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_COUNT


def is_finite_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number that is finite (not a bool, not an integer too large for a float)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _is_lines(value: Any) -> bool:
    return isinstance(value, list) and all(_is_text(line) for line in value)


def _is_paths(value: Any) -> bool:
    return isinstance(value, list) and all(_is_path(path) for path in value)


# What each field must hold, in every event type that carries it: (check, description).
FIELD_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **dict.fromkeys(
        (
            *("run_id", "friend", "backend", "device", "preset", "message", "hint", "detail", "prompt", "cache"),
            *("mixed_precision", "precision_reason", "attention", "label", "best"),
        ),
        (_is_text, "text"),
    ),
    **dict.fromkeys(("path", "lora_path", "best_sample"), (_is_path, "a file path")),
    **dict.fromkeys(
        ("step", "max_steps", "images", "pid", "processes", "batch_per_device", "effective_batch", "done", "total", "pending"),
        (_is_count, "a non-negative integer"),
    ),
    **dict.fromkeys(
        (
            *("loss", "avg_loss", "lr", "lr_te", "it_s", "eta_s", "weight"),
            *("likeness", "face_rate", "match_rate", "collapse", "best_likeness"),
        ),
        (is_finite_number, "a finite number"),
    ),
    "log_tail": (_is_lines, "a list of text lines"),
    "samples": (_is_paths, "a list of file paths"),
}


def make_event(kind: str, **fields: Any) -> Event:
    """A validated event of type `kind`, stamped with the current time.

    Non-finite numbers (a NaN loss) become null and text that UTF-8 cannot hold (a file
    name's undecodable bytes) is replaced, so a writer never fails on its own values.
    """
    clean = {key: _storable(value) for key, value in fields.items()}
    return validate_event({"t": time.time(), "type": kind, **clean})


def validate_event(event: Any) -> Event:
    """Return `event` when every field it carries has its type, else raise EventError saying why.

    Required fields must be present and not null; optional ones may be null; fields this
    schema does not know are kept unchecked (no reader uses them).
    """
    if not isinstance(event, dict):
        raise EventError(f"an event must be a JSON object, not {type(event).__name__}")
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in REQUIRED_FIELDS:
        raise EventError(f"unknown event type {_short(kind)}")
    t = event.get("t")
    if not is_finite_number(t) or not 0 <= t <= MAX_TIME:
        raise EventError(f"{kind} event has no numeric time 't' (seconds since 1970), but {_short(t)}")
    missing = [name for name in REQUIRED_FIELDS[kind] if event.get(name) is None]
    if missing:
        raise EventError(f"{kind} event is missing {', '.join(missing)}")
    for name, value in event.items():
        kind_of_field = FIELD_KINDS.get(name)
        if kind_of_field is not None and value is not None and not kind_of_field[0](value):
            raise EventError(f"{kind} event's {name} must be {kind_of_field[1]}, not {_short(value)}")
    if kind == "done" and event["status"] not in DONE_STATUSES:
        raise EventError(f"done event has an unknown status {_short(event['status'])}")
    if kind == "supervisor" and event["state"] not in SUPERVISOR_STATES:
        raise EventError(f"supervisor event has an unknown state {_short(event['state'])}")
    if kind == "eval" and event["stage"] not in EVAL_STAGES:
        raise EventError(f"eval event has an unknown stage {_short(event['stage'])}")
    return event


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 3] + "..."


def parse_event(line: str | bytes) -> Event:
    """One line of events.jsonl as a validated event."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
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


def _utf8_text(text: str) -> str:
    """`text` with a file name's undecodable bytes as U+FFFD and any other lone surrogate as `?`."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _storable(value: Any) -> Any:
    """`value` with non-finite floats as null and text made encodable as UTF-8."""
    if isinstance(value, str):
        return value if value.isascii() else _utf8_text(value)
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return _json_number(value)


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

    def read_new(self) -> list[Event]:
        """Events appended since the previous call (an empty list when nothing changed)."""
        chunks = self._file.read_chunks()
        if self._file.restarted:
            self._partial = b""
            self.invalid_lines = 0
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
