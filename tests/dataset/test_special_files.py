"""Issue 24: a FIFO named like a photo is called a FIFO (item 14), and a decompression bomb is never
handed to the face analysis (item 4)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qbtui.dataset import scan_friend
from qbtui.dataset.face_checks import scan_faces
from qbtui.faces.model import FaceModelMissing

from .test_folder_safety import write_huge_png


def test_a_fifo_named_like_a_photo_is_called_a_fifo_not_a_folder(settings, friend, folder, clean_dataset):
    clean_dataset()
    os.mkfifo(folder / "pipe.jpg")
    (folder / "link.jpg").symlink_to(folder / "pipe.jpg")
    status = scan_friend(settings, friend)
    messages = {p.path.name: p.message for p in status.all_problems() if p.code == "not-a-file"}
    assert set(messages) == {"pipe.jpg", "link.jpg"} and not status.ready
    assert all("is a FIFO (named pipe), not a photo" in message for message in messages.values()), messages


def test_a_decompression_bomb_is_never_given_to_the_face_analysis(settings, friend, folder, clean_dataset, monkeypatch):
    import qbtui.faces.analysis

    clean_dataset()
    write_huge_png(folder / "huge.png")
    (folder / "huge.txt").write_text("qb_peter person\n")
    asked: list[str] = []

    def recording(folder: Path, names: list[str], **options: object) -> dict[str, object]:
        asked.extend(names)
        raise FaceModelMissing("nothing: this test only records the names")

    monkeypatch.setattr(qbtui.faces.analysis, "analyse_folder", recording)
    status = scan_friend(settings, friend)
    assert "decompression-bomb" in {p.code for p in status.all_problems()}
    scan_faces(status)
    assert "huge.png" not in asked and len(asked) == 20


@pytest.fixture(autouse=True)
def _no_face_note() -> None:
    """scan_faces notes a missing model once per process; the fake one must not leave that note."""
    from qbtui.dataset.face_checks import FACE_CHECKS_SKIPPED

    yield
    FACE_CHECKS_SKIPPED.clear()
