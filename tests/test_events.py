"""The event schema and the incremental follower."""

from __future__ import annotations

import json

import pytest

from qbtui.events import (
    EventError,
    EventFollower,
    EventWriter,
    encode_event,
    make_event,
    parse_event,
    read_events,
)


def test_make_event_stamps_time_and_validates():
    event = make_event("step", step=3, max_steps=10, loss=0.1)
    assert event["type"] == "step" and isinstance(event["t"], float)
    with pytest.raises(EventError, match="missing step"):
        make_event("step", loss=0.1)
    with pytest.raises(EventError, match="unknown status"):
        make_event("done", status="finished")
    with pytest.raises(EventError, match="unknown event type"):
        make_event("bogus")


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"type": "step", "step": 1}', "numeric time"),
        (b'{"t": 1, "type": "step", "step": "one"}', "non-negative integer"),
        (b'{"t": 1, "type": "supervisor", "state": "asleep"}', "unknown state"),
    ],
)
def test_parse_event_rejects_bad_lines(line, reason):
    with pytest.raises(EventError, match=reason):
        parse_event(line)


def test_nan_loss_is_stored_as_null():
    line = encode_event(make_event("step", step=1, loss=float("nan"), it_s=float("inf")))
    assert json.loads(line)["loss"] is None and json.loads(line)["it_s"] is None


def test_follower_reads_only_new_whole_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    follower = EventFollower(path)
    assert follower.read_new() == []
    with EventWriter(path) as writer:
        writer.write("step", step=1)
        writer.write("step", step=2)
    assert [e["step"] for e in follower.read_new()] == [1, 2]
    assert follower.read_new() == []
    with path.open("ab") as handle:
        handle.write(b'{"t": 5, "type": "step", "st')
        handle.flush()
        assert follower.read_new() == []
        handle.write(b'ep": 3}\n')
    assert [e["step"] for e in follower.read_new()] == [3]
    assert follower.offset == path.stat().st_size


def test_follower_skips_and_counts_invalid_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'garbage\n{"t": 1, "type": "warning", "message": "hi"}\n\n')
    follower = EventFollower(path)
    assert [e["type"] for e in follower.read_new()] == ["warning"]
    assert follower.invalid_lines == 1


def test_follower_starts_over_when_the_file_is_replaced(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as writer:
        writer.write("step", step=1)
        writer.write("step", step=2)
    follower = EventFollower(path)
    follower.read_new()
    path.write_bytes(encode_event(make_event("step", step=9)))
    assert [e["step"] for e in follower.read_new()] == [9]
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(b"".join(encode_event(make_event("step", step=n)) for n in range(10, 15)))
    replacement.replace(path)
    assert [e["step"] for e in follower.read_new()] == [10, 11, 12, 13, 14], "a larger file with a new inode"


def test_follower_resumes_from_an_offset(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as writer:
        writer.write("step", step=1)
        middle = path.stat().st_size
        writer.write("step", step=2)
    assert [e["step"] for e in EventFollower(path, offset=middle).read_new()] == [2]
    assert len(read_events(path)) == 2


def test_two_writers_interleave_whole_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    first, second = EventWriter(path), EventWriter(path)
    for step in range(200):
        (first if step % 2 else second).write("step", step=step, message="x" * 300)
    first.close(), second.close()
    follower = EventFollower(path)
    assert sorted(e["step"] for e in follower.read_new()) == list(range(200))
    assert follower.invalid_lines == 0
