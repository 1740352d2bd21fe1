"""No wasted work: a run whose friend's photos show no face, or without the face engine, skips
the likeness in one line naming the fix and keeps no face model (issue 23, deliver 6)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from PIL import Image

from qbtui.events import EventWriter, read_events
from qbtui.faces.model import INSTALL_COMMAND, FaceModelMissing
from qbtui.runs.format import format_event
from qbtui.trainer import evaluate
from qbtui.trainer.watch import start_watch


class NoFaces:
    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        return []


def config(folder: Path) -> SimpleNamespace:
    return SimpleNamespace(
        evaluate_after_training=True, eval_prompts=["a photo of qb_ada person"], train_data_dir=str(folder), friend_id="ada"
    )


def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "ada" / "30_ada"
    folder.mkdir(parents=True)
    for index in range(3):
        Image.new("RGB", (32, 32), (index * 40, 90, 200)).save(folder / f"drawing{index}.png")
    return tmp_path / "ada"


def skipped_lines(path: Path) -> list[str]:
    return [format_event(event) for event in read_events(path)]


def test_photos_without_a_face_skip_the_scoring_in_one_line(tmp_path, monkeypatch):
    detector = NoFaces()
    monkeypatch.setattr(evaluate, "load_detector", lambda: detector)
    with EventWriter(tmp_path / "events.jsonl") as events:
        assert start_watch(config(photos(tmp_path)), tmp_path, events) is None
    assert detector.calls == 3  # each photo looked at once, no sample drawn
    (line,) = skipped_lines(tmp_path / "events.jsonl")
    assert "\n" not in line
    assert "likeness not measured: none of ada's 3 photos shows one face to compare with" in line
    assert "(fix: add photos where ada's face is clearly visible" in line


def test_without_the_face_engine_one_line_names_the_install_command(tmp_path, monkeypatch):
    def missing():
        raise FaceModelMissing("dlib")

    monkeypatch.setattr(evaluate, "load_detector", missing)
    with EventWriter(tmp_path / "events.jsonl") as events:
        assert start_watch(config(photos(tmp_path)), tmp_path, events) is None
    (line,) = skipped_lines(tmp_path / "events.jsonl")
    assert "\n" not in line and "likeness not measured: face checks need dlib" in line and INSTALL_COMMAND in line


def test_scoring_off_looks_at_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "load_detector", lambda: (_ for _ in ()).throw(AssertionError("loaded")))
    with EventWriter(tmp_path / "events.jsonl") as events:
        assert start_watch(SimpleNamespace(evaluate_after_training=False), tmp_path, events) is None
    assert read_events(tmp_path / "events.jsonl") == []
