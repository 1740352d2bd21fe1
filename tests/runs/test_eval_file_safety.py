"""Issue 24 items 5 and 6: eval.json is checked on read (every field typed, a bad file a clear
error naming it and the fix), and a sample path outside the run is never published as a card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from qbtui.cards import PREVIEW_MARKER, refresh_cards
from qbtui.cli import main as cli_main
from qbtui.errors import QbtuiError
from qbtui.likeness.report import Evaluation, format_eval_event, write_evaluation
from qbtui.likeness.scoring import CellScore, SampleScore
from qbtui.registry import Registry
from qbtui.runs import manager
from qbtui.runs.evaluation import read_run_evaluation

FINAL = ("completed", "stopped", "failed", "crashed")


def evaluation_of(info, sample: Path) -> Evaluation:
    scored = (SampleScore(str(sample), "qb_peter person, style", "style", 1, 1, 0.41),)
    cell = CellScore("final", 8, "qb_peter_lora.safetensors", 0.7, 1.0, 1.0, 0.41, 1.0, None, scored)
    return Evaluation(info.run_id, "peter", (cell,), cell, "best likeness")


@pytest.fixture
def evaluated(workspace, wait_for_state):
    """A completed run of peter with a valid eval.json whose sample lies in the run's eval/ folder."""
    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL).state == "completed"
    sample = info.path / "eval" / "final_w0.70_s1.png"
    sample.parent.mkdir()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(sample)
    write_evaluation(info.path / "eval.json", evaluation_of(info, sample))
    return info


def broken(data: dict, change: str) -> dict:
    cell = data["cells"][0]
    if change == "cells: [5]":
        data["cells"] = [5]
    elif change == 'likeness: "abc"':
        cell["likeness"] = "abc"
    elif change == "weight: null":
        cell["weight"] = None
    elif change == "samples: [null]":
        cell["samples"] = [None]
    elif change == "seed: 1.5":
        cell["samples"][0]["seed"] = 1.5
    elif change == "chosen: 3":
        data["chosen"] = 3
    elif change.startswith("lora: "):
        cell["lora"] = change.removeprefix("lora: ")
    elif change == "run_id missing":
        del data["run_id"]
    return data


CHANGES = (
    "cells: [5]",
    'likeness: "abc"',
    "weight: null",
    "samples: [null]",
    "seed: 1.5",
    "chosen: 3",
    "run_id missing",
    "lora: /tmp/outside/a.txt",
    "lora: ..",
    "lora: sub\\a.safetensors",
)


@pytest.mark.parametrize("change", CHANGES)
def test_a_mistyped_eval_json_is_a_clear_error_naming_the_file(evaluated, workspace, capsys, change):
    eval_json = evaluated.path / "eval.json"
    eval_json.write_text(json.dumps(broken(json.loads(eval_json.read_text()), change)))
    with pytest.raises(QbtuiError) as error:  # what the dashboard's compare view shows (message and fix)
        read_run_evaluation(evaluated.path)
    assert error.value.path == eval_json and f"qbtui eval {evaluated.run_id}" in (error.value.fix or "")
    for extra in ([], ["--json"]):
        code = cli_main(["--registry", str(workspace.path), "eval", evaluated.run_id, "--show", *extra])
        err = capsys.readouterr().err
        assert code != 0 and "Traceback" not in err and "Error(" not in err, err
        assert str(eval_json) in err and "malformed" in err and "fix:" in err
    result = {"type": "eval", "stage": "result", **json.loads(eval_json.read_text())}
    assert format_eval_event(result).startswith("evaluation result")  # `qbtui logs` of the same result


def test_a_sample_outside_the_run_is_never_published_as_a_preview(evaluated, workspace, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mine = elsewhere / "mypic.png"
    Image.new("RGB", (16, 16), (250, 5, 5)).save(mine)
    linked = evaluated.path / "eval" / "linked.png"
    linked.symlink_to(mine)
    registry = Registry.load(workspace.path)
    registry.record_choice(
        "peter", evaluated.run_id, chosen_lora="qb_peter_lora.safetensors", chosen_weight=0.7, likeness=0.41, scores={}
    )
    preview = workspace.settings.lora_dir / "qb_peter_lora.png"  # the card picture every UI finds
    for sample in (mine, linked):
        preview.unlink(missing_ok=True)
        write_evaluation(evaluated.path / "eval.json", evaluation_of(evaluated, sample))
        refresh_cards(Registry.load(workspace.path), ["peter"])
        if preview.exists():
            with Image.open(preview) as image:
                assert sample.name not in image.text[PREVIEW_MARKER]
    inside = evaluated.path / "eval" / "final_w0.70_s1.png"
    write_evaluation(evaluated.path / "eval.json", evaluation_of(evaluated, inside))
    refresh_cards(Registry.load(workspace.path), ["peter"])
    with Image.open(preview) as image:
        assert image.text[PREVIEW_MARKER] == f"{evaluated.run_id} {inside.name}"
