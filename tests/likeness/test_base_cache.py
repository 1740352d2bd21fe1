"""The base model's cached likeness cell is a file qbtui reads back: anything but a well-typed cell is a miss."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import pytest

from qbtui.likeness.scoring import CellScore, SampleScore
from qbtui.trainer.watch import _read_cached, _write_cached

CELL = CellScore("base", None, "", 0.0, 1.0, None, 0.71, 0.5, None, (SampleScore("s.png", "qb_x person", "identity", 1, 1, 0.7),))


def test_a_written_base_cell_reads_back(tmp_path):
    path = tmp_path / ".likeness-base" / "abc.json"
    _write_cached(path, CELL, 1.5)
    assert _read_cached(path) == (CELL, 1.5)


@pytest.mark.parametrize(
    "content",
    [
        "[1, 2]",
        '{"cell": 5}',
        '{"cell": {"label": "base"}}',
        json.dumps({"cell": {**asdict(CELL), "likeness": "abc"}}),
        json.dumps({"cell": {**asdict(CELL), "samples": [{"path": 5}]}}),
        "not json",
    ],
)
def test_a_mistyped_cache_file_is_a_miss_not_a_crash(tmp_path, content):
    path = tmp_path / "abc.json"
    path.write_text(content, encoding="utf-8")
    assert _read_cached(path) is None


def test_a_fifo_in_the_cache_is_a_miss_without_waiting(tmp_path):
    path = tmp_path / "abc.json"
    os.mkfifo(path)
    assert _read_cached(path) is None
