"""Likeness scored while training (issue 23, deliver 2 and 4), on the tiny model with the real
public-domain face photos as the friend's dataset. The tiny model's samples are noise without a
face, so these tests inject a detector: the real face model on the friend's photos, and on a
64-pixel sample one stand-in face near the friend's (its offset set by the sample's brightness)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from qbtui.events import read_events
from qbtui.likeness.report import read_evaluation
from qbtui.runs.format import format_event
from qbtui.trainer import evaluate
from qbtui.trainer.loop import train
from tests.trainer.test_train import make_config, sigterm_while_drawing, write_run

pytest.importorskip("dlib")
pytestmark = pytest.mark.usefixtures("one_torch_thread", "fresh_accelerate_state")
PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg")


class NearTheFriend:
    """The real face model on photos; one face near the friend's first photo on the tiny model's samples."""

    def __init__(self, real, reference: tuple[float, ...]) -> None:
        self.real, self.reference, self.samples = real, reference, 0

    def detect(self, image):
        if image.width > 64:
            return self.real.detect(image)
        self.samples += 1
        from PIL import ImageStat

        shift = ImageStat.Stat(image.convert("L")).mean[0] / 255 * 0.3
        descriptor = (self.reference[0] + shift, *self.reference[1:])
        return [SimpleNamespace(box=(0, 0, 32, 32), descriptor=descriptor)]


@pytest.fixture
def obama_dataset(tmp_path: Path, face_photos: Path) -> Path:
    folder = tmp_path / "photos" / "2_peter"
    folder.mkdir(parents=True)
    for name in PHOTOS:
        shutil.copy(face_photos / name, folder / name)
        (folder / name).with_suffix(".txt").write_text("qb_peter person, man in a suit\n", encoding="utf-8")
    return tmp_path / "photos"


@pytest.fixture
def detector(monkeypatch: pytest.MonkeyPatch, face_photos: Path) -> NearTheFriend:
    from PIL import Image

    from qbtui.faces import FaceModel

    real = FaceModel.load()
    with Image.open(face_photos / "obama.jpg") as photo:
        (face,) = real.detect(photo.convert("RGB"))
    standin = NearTheFriend(real, tuple(face.descriptor))
    monkeypatch.setattr(evaluate, "load_detector", lambda: standin)
    return standin


def scored_config(model: Path, data: Path, out: Path, **overrides):
    values = {
        "save_every_n_steps": 2,
        "max_train_steps": 4,
        "evaluate_after_training": True,
        "eval_prompts": ["a photo of qb_peter person"],
        "eval_seeds": 1,
        "eval_steps": 2,
        "sample_weights": [0.8, 1.0],
    }
    return make_config(model, data, out, **(values | overrides))


def test_every_checkpoint_is_scored_in_the_training_process(tiny_model_dir, obama_dataset, detector, tmp_path):
    run_dir = tmp_path / "logs" / "peter" / "run-1"
    run_dir.mkdir(parents=True)
    outcome = train(scored_config(tiny_model_dir, obama_dataset, tmp_path / "lora"), run_dir)
    assert outcome.status == "completed"
    events = read_events(run_dir / "events.jsonl")  # validated, the `likeness` ones included
    cells = [(event["step"], event["weight"]) for event in events if event["type"] == "likeness"]
    assert cells == [(0, 0.0), (2, 0.8), (2, 1.0), (4, 0.8), (4, 1.0)]  # the base model once, then each checkpoint x weight
    scored = [event for event in events if event["type"] == "likeness"]
    assert all(event["face_rate"] == 1.0 and event["likeness"] < 0.6 and len(event["samples"]) == 1 for event in scored)
    assert detector.samples == 5  # one identity sample per cell, no second pass after the last step
    finals = [event for event in events if event["type"] == "eval" and event["stage"] == "sample"]
    assert [(event["done"], event["total"], event["faces"]) for event in finals] == [(1, 2, 1), (2, 2, 1)]
    kinds = [event["type"] for event in events]
    assert kinds.index("done") < len(kinds) - 1 - kinds[::-1].index("likeness")  # the final file is scored after `done`
    # right after `done` the choice of step 2 stands (the supervisor records it), then one per final cell
    after_done = [event for event in events[kinds.index("done") + 1 :] if event["type"] in ("eval", "likeness")]
    assert after_done[0]["type"] == "eval" and after_done[0]["stage"] == "chosen" and after_done[0]["key"].startswith("2@")
    standing = [event for event in events if event["type"] == "eval" and event["stage"] == "chosen"]
    assert [event["pending"] for event in standing] == [2, 1, 0]
    lines = [format_event(event) for event in events]
    checkpoint_lines = [line.split("  ", 1)[1] for line in lines if "likeness @" in line]
    assert len(checkpoint_lines) == 2 and not any(line == "" for line in lines if "likeness" in line)
    assert re.fullmatch(r"likeness @2: 0\.8 0\.\d\d · 1\.0 0\.\d\d \(base 0\.\d\d\)", checkpoint_lines[0])
    evaluation = read_evaluation(run_dir / "eval.json")
    assert evaluation is not None and evaluation.chosen is not None
    assert [cell.key for cell in evaluation.cells] == ["base@0", "2@0.8", "2@1", "final@0.8", "final@1"]
    assert evaluation.chosen.lora in ("qb_peter_lora-step00000002.safetensors", "qb_peter_lora.safetensors")

    again = tmp_path / "logs" / "peter" / "run-2"  # the same base model and photos: the base cell comes from the cache
    again.mkdir()
    train(scored_config(tiny_model_dir, obama_dataset, tmp_path / "lora2"), again)
    assert detector.samples == 9 and not list((again / "eval").glob("base_*"))


class TheFriendExactly(NearTheFriend):
    """Every sample shows the friend's first photo's face: the likeness never improves."""

    def detect(self, image):
        if image.width > 64:
            return self.real.detect(image)
        self.samples += 1
        return [SimpleNamespace(box=(0, 0, 32, 32), descriptor=self.reference)]


def test_stop_early_ends_a_run_whose_likeness_stopped_improving(tiny_model_dir, obama_dataset, detector, monkeypatch, tmp_path):
    flat = TheFriendExactly(detector.real, detector.reference)
    monkeypatch.setattr(evaluate, "load_detector", lambda: flat)
    run_dir = tmp_path / "logs" / "peter" / "run-1"
    run_dir.mkdir(parents=True)
    config = scored_config(
        tiny_model_dir,
        obama_dataset,
        tmp_path / "lora",
        save_every_n_steps=1,
        max_train_steps=8,
        sample_weights=[0.8],
        stop_early=True,
    )
    outcome = train(config, run_dir)
    assert outcome.status == "completed" and outcome.step == 3  # checkpoints 1, 2, 3 alike: no better for 2
    events = read_events(run_dir / "events.jsonl")
    (done,) = [event for event in events if event["type"] == "done"]
    assert done["status"] == "completed" and done["message"].startswith("stopped early at step 3: likeness 0.")
    assert done["message"].endswith(", no better for 2 checkpoints")
    assert format_event(done).split("  ", 1)[1].startswith("done: completed, LoRA ")
    evaluation = read_evaluation(run_dir / "eval.json")
    assert evaluation.chosen is not None and evaluation.chosen.key == "1@0.8"  # ties go to the earlier step
    assert (tmp_path / "lora" / evaluation.chosen.lora).is_file()


def test_sigterm_while_scoring_a_checkpoint_stops_at_that_step_and_resume_trains_on(
    tiny_model_dir, obama_dataset, detector, tmp_path
):
    run_dir = tmp_path / "logs" / "peter" / "run-1"
    config = scored_config(tiny_model_dir, obama_dataset, tmp_path / "lora", max_train_steps=6)
    write_run(run_dir, config)
    finished = sigterm_while_drawing(run_dir)  # its trainer scores with the real face model: no face on noise
    assert finished.returncode == 0, finished.stderr.decode()
    events = read_events(run_dir / "events.jsonl")
    assert events[-1]["type"] == "done" and events[-1]["status"] == "stopped"
    assert Path(events[-1]["lora_path"]).name == "qb_peter_lora-step00000002.safetensors"
    # the step-2 scoring was abandoned at its first sample: no cell, no checkpoint scores, no image
    assert not [event for event in events if event["type"] == "likeness"]
    assert not [event for event in events if event["type"] == "eval" and event["stage"] != "scoring"]
    assert not list((run_dir / "eval").glob("*.png"))

    assert train(config, run_dir, resume=True).step == 6
    events = read_events(run_dir / "events.jsonl")
    assert [event["step"] for event in events if event["type"] == "start"] == [0, 2]
    assert [event["step"] for event in events if event["type"] == "step"] == list(range(1, 7))  # no step trained twice
    checkpoints = [event["step"] for event in events if event["type"] == "eval" and event["stage"] == "checkpoint"]
    assert checkpoints == [4, 6]  # the step-2 checkpoint is not scored again, the final file is
