"""Drawing on the tiny model: LoRAs really applied (one and two friends), A1111's PNG Info, batches, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qbtui.cli import main as cli_main
from qbtui.draw import draw, parse_parameters, plan_drawings, read_gallery, run_plan
from qbtui.draw.parameters import lora_short_hash
from qbtui.draw.plan import DrawPlan
from qbtui.errors import QbtuiError


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def with_weights(plan: DrawPlan, *weights: dict[str, float]) -> DrawPlan:
    """The plan's one job drawn once per weights dict (friends at 0 stay in, an empty dict is the base alone)."""
    job = plan.jobs[0]
    jobs = tuple(dataclasses.replace(job, friends=tuple(chosen), weights=chosen) for chosen in weights)
    return dataclasses.replace(plan, jobs=jobs)


def test_one_and_two_friends_loras_are_applied_and_weight_zero_is_the_base(draw_registry):
    plan = plan_drawings(draw_registry, ["Ada and Ben at the beach"], seed=5, size="64x64")
    assert plan.jobs[0].friends == ("ada", "ben") and plan.jobs[0].weights == {"ada": 0.8, "ben": 0.8}
    cases = with_weights(
        plan,
        {},
        {"ada": 0.0},
        {"ada": 0.8},
        {"ada": 1.2},
        {"ada": 0.0, "ben": 0.0},
        {"ada": 0.8, "ben": 0.8},
        {"ada": 0.8, "ben": 0.0},
    )
    images = run_plan(cases)
    base, ada0, ada08, ada12, both0, both08, ada_only = (pixels(Path(image["path"])) for image in images)
    assert np.abs(ada0 - base).max() <= 1 and np.abs(both0 - base).max() <= 1
    assert np.abs(ada08 - base).mean() > 2 and np.abs(ada12 - ada08).mean() > 2
    assert np.abs(both08 - ada08).mean() > 2, "Ben's adapter changes the picture too"
    assert np.abs(ada_only - ada08).max() <= 1, "Ben at weight 0 adds nothing"
    assert "<lora:qb_ada_lora:0.8>, <lora:qb_ben_lora:0.8>, qb_ada person and qb_ben person at the beach" in images[5]["prompt"]


def test_png_info_reads_back_as_a1111_writes_it(draw_registry):
    paths = draw("Ada at the beach", n=2, seed=41, size="64x64", registry=draw_registry)
    assert [path.name.rsplit("_", 2)[1:] for path in paths] == [["ada", "41.png"], ["ada", "42.png"]]
    settings = draw_registry.settings
    fields = parse_parameters(Image.open(paths[1]).text["parameters"])
    unet_weights = settings.base_model / "unet" / "diffusion_pytorch_model.safetensors"
    lora = settings.lora_dir / "qb_ada_lora.safetensors"
    assert fields == {
        "prompt": f"<lora:qb_ada_lora:0.8>, qb_ada person at the beach, {settings.style_suffix}",
        "negative_prompt": settings.negative_prompt,
        "Steps": "4",
        "Sampler": "Euler",
        "Schedule type": "Uniform",
        "CFG scale": "7",
        "Seed": "42",
        "Size": "64x64",
        "Model hash": hashlib.sha256(unet_weights.read_bytes()).hexdigest()[:10],
        "Model": "tiny",
        "RNG": "CPU",
        "Lora hashes": f"qb_ada_lora: {lora_short_hash(lora)}",
        "Version": fields["Version"],
    }
    data = lora.read_bytes()
    assert lora_short_hash(lora) == hashlib.sha256(data[8 + int.from_bytes(data[:8], "little") :]).hexdigest()[:12]
    gallery = read_gallery(settings)
    assert [drawing.path for drawing in gallery] == paths[::-1]
    assert gallery[0].friends == ("ada",) and gallery[0].scene == "Ada at the beach"


def test_a_file_of_scenes_loads_the_pipeline_once(draw_registry, tmp_path, capsys):
    scenes = tmp_path / "scenes.txt"
    scenes.write_text("# flashcards\nAda climbing a tree\n\nBen and Ada reading\n", encoding="utf-8")
    events: list[dict] = []
    paths = draw(
        ["Ada climbing a tree", "Ben and Ada reading"], n=2, seed=1, size="64x64", registry=draw_registry, progress=events.append
    )
    assert len(paths) == 4 and all(path.is_file() for path in paths)
    assert [event["event"] for event in events].count("loaded") == 1
    code = cli_main(
        ["--registry", str(draw_registry.path), "draw", "--from", str(scenes), "--seed", "9", "--size", "64x64", "--json"]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and [(line["scene"], line["seed"]) for line in lines] == [
        ("Ada climbing a tree", 9),
        ("Ben and Ada reading", 9),
    ]
    assert [friend["id"] for friend in lines[1]["friends"]] == ["ben", "ada"]
    index = (draw_registry.settings.drawings_folder / "index.jsonl").read_text().splitlines()
    assert len(index) == 6


@pytest.mark.parametrize(
    ("scene", "change", "message", "fix"),
    [
        ("Cleo on a bike", None, "Cleo has no trained LoRA yet", "qbtui train cleo"),
        ("Ben on a bike", "lora", "Ben's LoRA file is missing", "qbtui train ben"),
        ("Ada on a bike", "base", "the base model is missing", "set base_model"),
    ],
)
def test_errors_come_before_any_model_loads(draw_registry, monkeypatch, tmp_path, capsys, scene, change, message, fix):
    import qbtui.draw.plan
    import qbtui.draw.run

    monkeypatch.setattr(qbtui.draw.run, "worker_command", lambda: pytest.fail("the worker must not start"))
    if change == "lora":
        monkeypatch.setattr(qbtui.draw.plan, "lora_file", lambda friend, settings: tmp_path / "gone.safetensors")
    if change == "base":
        draw_registry.set_setting("base_model", str(tmp_path / "nowhere.safetensors"))
    code = cli_main(["--registry", str(draw_registry.path), "draw", scene])
    err = capsys.readouterr().err
    assert code == 2 and message in err and fix in err
    with pytest.raises(QbtuiError, match=message):
        draw(scene, registry=draw_registry.path)
    assert not draw_registry.settings.drawings_folder.exists()


@pytest.mark.parametrize("out", ["picture.png", "picture.png/more", "dangling"])
def test_out_naming_a_file_is_a_clear_error_before_any_model_loads(draw_registry, monkeypatch, tmp_path, capsys, out):
    import qbtui.draw.run

    monkeypatch.setattr(qbtui.draw.run, "worker_command", lambda: pytest.fail("the worker must not start"))
    (tmp_path / "picture.png").write_bytes(b"not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    code = cli_main(["--registry", str(draw_registry.path), "draw", "Ada on a bike", "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    blocker = tmp_path / out.split("/")[0]
    assert code == 2 and "Traceback" not in err
    assert f"--out names the folder the drawings go into, and {blocker} is" in err and "fix: give --out a folder" in err
    assert (tmp_path / "picture.png").read_bytes() == b"not a folder"


def test_the_likeness_choice_picks_the_file_and_the_weight(draw_registry):
    import shutil

    from qbtui.registry import Registry

    loras = draw_registry.settings.lora_dir
    shutil.copyfile(loras / "qb_ada_lora.safetensors", loras / "qb_ada_lora-step00000040.safetensors")
    text = draw_registry.path.read_text().replace(
        'lora_file = "qb_ada_lora.safetensors"', 'lora_file = "qb_ada_lora.safetensors"\nrun_id = "r1"'
    )
    draw_registry.path.write_text(text)
    registry = Registry.load(draw_registry.path)
    registry.record_choice(
        "ada", "r1", chosen_lora="qb_ada_lora-step00000040.safetensors", chosen_weight=0.65, likeness=0.4, scores={}
    )
    plan = plan_drawings(Registry.load(draw_registry.path), ["Ada and Ben"], seed=1)
    assert (plan.loras["ada"].name, plan.loras["ada"].weight, plan.loras["ben"].weight) == ("qb_ada_lora-step00000040", 0.65, 0.8)
    assert plan.jobs[0].prompt.startswith("<lora:qb_ada_lora-step00000040:0.65>, <lora:qb_ben_lora:0.8>, qb_ada person and")


def test_the_tokenizer_places_reach_the_worker(draw_registry, tmp_path):
    from qbtui.draw.plan import DrawPlan
    from qbtui.registry import Registry

    text = draw_registry.path.read_text().replace("[settings]\n", f'[settings]\ncomfyui_dir = "{tmp_path}/ComfyUI"\n', 1)
    draw_registry.path.write_text(text.replace("[settings]\n", f'[settings]\ntokenizer_cache_dir = "{tmp_path}/tok"\n', 1))
    plan = DrawPlan.from_json(plan_drawings(Registry.load(draw_registry.path), ["Ada"], seed=1).to_json())
    assert plan.tokenizer_options()["tokenizer_cache_dir"] == f"{tmp_path}/tok"
    assert plan.tokenizer_options()["comfyui_dir"] == f"{tmp_path}/ComfyUI"
