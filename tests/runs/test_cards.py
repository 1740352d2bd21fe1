"""AUTOMATIC1111 cards beside each LoRA: written by runs of both backends and by `qbtui cards`, edits kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from qbtui.cards import MEMORY_KEY, PREVIEW_MARKER, refresh_cards, update_card, update_preview
from qbtui.cli import main as cli_main
from qbtui.demo import build_demo
from qbtui.errors import QbtuiError
from qbtui.lora_header import THUMBNAIL_KEY, read_metadata
from qbtui.registry import Registry
from qbtui.runs import manager

FINAL = ("completed", "stopped", "failed", "crashed")
OWNED = {"activation text", "preferred weight", "sd version", "description", "notes"}


def read_card(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def png_text(path: Path) -> dict:
    with Image.open(path) as image:
        return dict(image.text)


def hand_made_png(path: Path, colour=(10, 200, 10)) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "made in A1111")
    Image.new("RGB", (16, 16), colour).save(path, pnginfo=info)
    return path.read_bytes()


# The demo preset, shorter: a checkpoint at step 2, the final file and its samples at 4, two sampling steps.
QUICK_PRESET = """
[presets.quick]
resolution = "64,64"
network_dim = 4
network_alpha = 2
learning_rate = 1e-3
max_train_steps = 4
save_every_n_steps = 2
sample_every_n_steps = 4
sample_steps = 2
mixed_precision = "no"
"""


def test_demo_runs_write_the_card_and_keep_the_persons_edits(tmp_path, wait_for_state):
    registry_path = build_demo(tmp_path / "demo")
    registry_path.write_text(registry_path.read_text(encoding="utf-8") + QUICK_PRESET, encoding="utf-8")
    registry = Registry.load(registry_path)
    registry.set_setting("eval_after_training", False)  # the likeness pass has tests of its own
    loras = registry.settings.lora_dir
    first = manager.start_run(registry, "ada", preset="quick")
    done = wait_for_state(first.path, FINAL, timeout=1200)
    assert done.state == "completed", done.error
    card = read_card(loras / "qb_ada_lora.json")
    assert set(card) >= OWNED
    (training,) = Registry.load(registry.path).friend("ada").trainings
    assert card["activation text"] == "qb_ada person" and card["preferred weight"] == 0.8 and card["sd version"] == "SD1"
    assert card["notes"] == first.run_id
    assert card["description"] == f"Ada, trained {training.date}: 4 steps on 24 photos"
    preview = loras / "qb_ada_lora.png"
    assert png_text(preview)[PREVIEW_MARKER].endswith("qb_ada_lora_000004_00_w0.80_42.png")
    assert png_text(preview)["parameters"].startswith("<lora:qb_ada_lora:0.8>, qb_ada person")
    checkpoint = read_card(loras / "qb_ada_lora-step00000002.json")
    assert (
        checkpoint["description"].startswith("Ada, trained ") and "checkpoint at step 2 on 24 photos" in checkpoint["description"]
    )
    assert (loras / "qb_ada_lora-step00000004.png").is_file()
    for lora in ("qb_ada_lora.safetensors", "qb_ada_lora-step00000004.safetensors"):
        assert read_metadata(loras / lora)[THUMBNAIL_KEY].startswith("data:image/jpeg;base64,"), lora
    assert json.loads((loras / "qb_ada_lora.metadata.json").read_text())["civitai"]["trainedWords"] == ["qb_ada person"]

    card["preferred weight"] = 0.65
    card["my own key"] = ["kept", 1]
    (loras / "qb_ada_lora.json").write_text(json.dumps(card, indent=4), encoding="utf-8")
    theirs = hand_made_png(preview)
    second = manager.start_run(Registry.load(registry.path), "ada", preset="quick", steps=2)
    assert wait_for_state(second.path, FINAL, timeout=1200).state == "completed"
    card = read_card(loras / "qb_ada_lora.json")
    assert card["preferred weight"] == 0.65 and card["my own key"] == ["kept", 1]
    assert card["notes"] == second.run_id and ": 2 steps on 24 photos" in card["description"]
    assert card[MEMORY_KEY]["written"]["preferred weight"] == 0.8
    assert preview.read_bytes() == theirs


def test_a_changed_value_is_the_persons_and_an_empty_one_is_filled(tmp_path):
    lora = tmp_path / "qb_peter_lora.safetensors"
    values = {
        "activation text": "qb_peter person",
        "preferred weight": 0.8,
        "sd version": "SD1",
        "description": "d",
        "notes": "r1",
    }
    assert update_card(lora, values).action == "written"
    assert update_card(lora, values).action == "unchanged"
    card = read_card(tmp_path / "qb_peter_lora.json")
    card.update({"activation text": "", "description": "my words", "negative text": "blurry"})
    (tmp_path / "qb_peter_lora.json").write_text(json.dumps(card))
    outcome = update_card(lora, {**values, "description": "new", "notes": "r2"})
    card = read_card(tmp_path / "qb_peter_lora.json")
    assert outcome.detail == "kept your description"
    assert (card["activation text"], card["description"], card["notes"], card["negative text"]) == (
        "qb_peter person",
        "my words",
        "r2",
        "blurry",
    )


def test_a_broken_card_or_a_symlink_is_left_alone(tmp_path):
    lora = tmp_path / "qb_peter_lora.safetensors"
    card = tmp_path / "qb_peter_lora.json"
    card.write_bytes(b"{not json \xff")
    with pytest.raises(QbtuiError, match="not valid JSON") as error:
        update_card(lora, {"notes": "r1"})
    assert error.value.path == card and card.read_bytes() == b"{not json \xff"
    card.unlink()
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    card.symlink_to(outside)
    assert update_card(lora, {"notes": "r1"}).action == "skipped" and outside.read_text() == "{}"


def test_a_persons_picture_beside_the_lora_keeps_qbtui_from_adding_a_preview(tmp_path):
    lora = tmp_path / "qb_peter_lora.safetensors"
    sample = tmp_path / "sample.png"
    hand_made_png(sample, (1, 2, 3))
    assert update_preview(lora, sample, "r1").action == "written"
    assert update_preview(lora, sample, "r2").action == "written"
    assert png_text(tmp_path / "qb_peter_lora.png")[PREVIEW_MARKER] == "r2 sample.png"
    theirs = hand_made_png(tmp_path / "qb_peter_lora.png")
    outcome = update_preview(lora, sample, "r3")
    assert outcome.action == "kept" and "qb_peter_lora.png" in outcome.detail
    assert (tmp_path / "qb_peter_lora.png").read_bytes() == theirs


def test_kohya_run_writes_cards_for_the_final_lora_and_its_checkpoint(workspace, monkeypatch, wait_for_state):
    monkeypatch.setenv("STANDIN_SAMPLE", "1")
    info = manager.start_run(workspace, "peter", backend="kohya")
    assert wait_for_state(info.path, FINAL).state == "completed"
    loras = workspace.settings.lora_dir
    final = read_card(loras / "qb_peter_lora.json")
    assert (final["activation text"], final["notes"]) == ("qb_peter person", info.run_id)
    assert ": 8 steps on 20 photos" in final["description"]
    assert "checkpoint at step 4" in read_card(loras / "qb_peter_lora-step00000004.json")["description"]
    assert png_text(loras / "qb_peter_lora.png")[PREVIEW_MARKER] == f"{info.run_id} qb_peter_lora_000008_00_20260101000000_42.png"
    assert read_metadata(loras / "qb_peter_lora.safetensors")[THUMBNAIL_KEY].startswith("data:image/jpeg;base64,")


def test_qbtui_cards_fills_in_a_lora_trained_before(workspace, wait_for_state, capsys):
    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL).state == "completed"
    card = workspace.settings.lora_dir / "qb_peter_lora.json"
    card.unlink()
    assert cli_main(["--registry", str(workspace.path), "cards", "peter"]) == 0
    assert f"{card}: written" in capsys.readouterr().out
    assert read_card(card)["notes"] == info.run_id
    assert cli_main(["--registry", str(workspace.path), "registry", "table"]) == 0
    assert "| loras/qb_peter_lora.json |" in capsys.readouterr().out
    assert [outcome.action for outcome in refresh_cards(Registry.load(workspace.path), ["maria"])] == []


def test_the_likeness_choice_sets_the_weight_description_and_picture(workspace, wait_for_state, tmp_path):
    from qbtui.likeness.report import Evaluation, write_evaluation
    from qbtui.likeness.scoring import CellScore, SampleScore

    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL).state == "completed"
    chosen_picture = info.path / "eval" / "style_sample.png"  # an evaluation's samples lie in its run's folder
    chosen_picture.parent.mkdir()
    hand_made_png(chosen_picture, (5, 5, 250))
    cell = CellScore(
        "final",
        8,
        "qb_peter_lora.safetensors",
        0.7,
        1.0,
        1.0,
        0.41,
        1.0,
        None,
        (SampleScore(str(chosen_picture), "qb_peter person, style", "style", 1, 1, 0.41),),
    )
    write_evaluation(info.path / "eval.json", Evaluation(info.run_id, "peter", (cell,), cell, "best likeness"))
    registry = Registry.load(workspace.path)
    registry.record_choice(
        "peter", info.run_id, chosen_lora="qb_peter_lora.safetensors", chosen_weight=0.7, likeness=0.41, scores={}
    )
    refresh_cards(Registry.load(workspace.path), ["peter"])
    loras = workspace.settings.lora_dir
    card = read_card(loras / "qb_peter_lora.json")
    assert card["preferred weight"] == 0.7 and card["description"].endswith("on 20 photos, likeness 0.41")
    assert png_text(loras / "qb_peter_lora.png")[PREVIEW_MARKER] == f"{info.run_id} style_sample.png"


def test_a_chosen_checkpoint_gets_the_evaluations_samples_as_its_picture(workspace, wait_for_state, tmp_path):
    """The compare view's pick of the step-4 checkpoint: `qbtui cards` shows its evaluation sample, not `no sample to show`."""
    import torch

    from qbtui.likeness.report import Evaluation, write_evaluation
    from qbtui.likeness.scoring import CellScore, SampleScore
    from qbtui.trainer.metadata import save_lora

    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL).state == "completed"
    loras = workspace.settings.lora_dir
    checkpoint = save_lora(loras / "qb_peter_lora-step00000004.safetensors", {"a.alpha": torch.tensor(1.0)}, {})
    pictures = {}
    (info.path / "eval").mkdir(exist_ok=True)
    for label, colour in (("4", (250, 5, 5)), ("final", (5, 5, 250))):
        pictures[label] = info.path / "eval" / f"eval_{label}.png"  # inside the run: the only samples a card takes
        hand_made_png(pictures[label], colour)

    def cell(label, step, lora, weight):
        sample = SampleScore(str(pictures[label]), "qb_peter person, style", "style", 1, 1, 0.4)
        return CellScore(label, step, lora, weight, 1.0, 1.0, 0.4, 1.0, None, (sample,))

    cells = (
        cell("4", 4, checkpoint.name, 0.6),
        cell("4", 4, checkpoint.name, 1.0),
        cell("final", 8, "qb_peter_lora.safetensors", 0.6),
    )
    write_evaluation(info.path / "eval.json", Evaluation(info.run_id, "peter", cells, cells[0], "picked in the compare view"))
    Registry.load(workspace.path).record_choice(
        "peter", info.run_id, chosen_lora=checkpoint.name, chosen_weight=0.6, likeness=0.4, scores={}
    )
    outcomes = {outcome.path.name: outcome for outcome in refresh_cards(Registry.load(workspace.path), ["peter"])}
    assert outcomes["qb_peter_lora-step00000004.png"].action == "written"
    assert png_text(loras / "qb_peter_lora-step00000004.png")[PREVIEW_MARKER] == f"{info.run_id} eval_4.png"
    assert read_metadata(checkpoint)[THUMBNAIL_KEY].startswith("data:image/jpeg;base64,")
    assert png_text(loras / "qb_peter_lora.png")[PREVIEW_MARKER] == f"{info.run_id} eval_final.png", "the final file's own"
