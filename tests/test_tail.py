"""The shared follower of growing files: new bytes only, and lines as terminals show them."""

from __future__ import annotations

import os

from qbtui.tail import GrowingFile, LogTail, TextLines


def test_growing_file_returns_only_appended_bytes(tmp_path):
    path = tmp_path / "output.log"
    growing = GrowingFile(path)
    assert growing.read_new() == b""
    path.write_bytes(b"one\n")
    assert growing.read_new() == b"one\n"
    with path.open("ab") as handle:
        handle.write(b"two\n")
    assert growing.read_new() == b"two\n"
    assert growing.read_new() == b""


def test_growing_file_starts_over_when_the_file_is_replaced(tmp_path):
    path = tmp_path / "output.log"
    path.write_bytes(b"old contents\n")
    growing = GrowingFile(path)
    growing.read_new()
    replacement = tmp_path / "new"
    replacement.write_bytes(b"new\n")
    os.replace(replacement, path)
    assert growing.read_new() == b"new\n"
    assert growing.restarted


def test_text_lines_end_at_carriage_returns_and_wait_for_partial_lines():
    lines = TextLines()
    assert lines.feed(b"steps:  10%|#  | 1/10\rsteps:  20%|## | 2/") == ["steps:  10%|#  | 1/10"]
    assert lines.feed(b"10\r\nsaving checkpoint: a.safetensors\n") == [
        "steps:  20%|## | 2/10",
        "saving checkpoint: a.safetensors",
    ]
    assert lines.feed("tail without end") == []
    assert lines.finish() == "tail without end"


def test_a_character_cut_between_two_chunks_is_decoded_whole():
    lines = TextLines()
    encoded = "Zoë\n".encode()
    assert lines.feed(encoded[:3]) == []
    assert lines.feed(encoded[3:]) == ["Zoë"]


def test_log_tail_skips_blank_lines_and_forgets_a_partial_line_of_a_replaced_file(tmp_path):
    path = tmp_path / "output.log"
    path.write_bytes(b"first\n\n   \nhalf a li")
    tail = LogTail(path)
    assert tail.read_new() == ["first"]
    path.write_bytes(b"")
    assert tail.read_new() == []
    with path.open("ab") as handle:
        handle.write(b"fresh\n")
    assert tail.read_new() == ["fresh"]
