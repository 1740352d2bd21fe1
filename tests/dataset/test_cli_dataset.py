"""`qbtui check`, `qbtui prep`, `qbtui captions` on a registry with one friend."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

import qbtui.cli
from qbtui.cli import build_parser, main
from qbtui.registry import originals_dir

REGISTRY = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
preset = "standard"

[presets.standard]
max_train_steps = 1200

[friends.peter]
name = "Peter"
token = "qb_peter"
repeats = 30
describe = "man, curly hair"
"""


@pytest.fixture(autouse=True)
def present_topics_only(monkeypatch):
    """Other topics' CLI modules land in parallel; register only the ones present."""
    present = tuple(name for name in qbtui.cli.TOPIC_MODULES if importlib.util.find_spec(f"qbtui.cli.{name}"))
    monkeypatch.setattr(qbtui.cli, "TOPIC_MODULES", present)


@pytest.fixture
def registry(settings) -> Path:
    path = settings.datasets_dir.parent / "registry.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def run(registry: Path, *argv: str) -> int:
    return main(["--registry", str(registry), *argv])


def test_check_lists_problems_with_fixes_and_exits_1(registry, folder, photos, capsys):
    photos.jpeg(folder / "wide.jpg", seed=1, size=(800, 600))
    assert run(registry, "check", "Peter") == 1
    out = capsys.readouterr().out
    assert "NOT READY" in out and "not-512" in out and "no-caption" in out and "fix: run `qbtui prep peter`" in out


def test_check_json_and_ready_exit_0(registry, clean_dataset, capsys):
    clean_dataset(20)
    assert run(registry, "check", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["face_checks"] == "done"
    entry = payload["friends"][0]
    # the photos are Pillow drawings: a single dataset-level warning, no face found at all
    assert [problem["code"] for problem in entry.pop("problems")] == ["few-faces-found"]
    assert entry | {"folder": None} == {
        "friend": "peter",
        "folder": None,
        "ready": True,
        "images": 20,
        "captions": 20,
        "faces": {"photos": 20, "with_face": 0, "poses": {"front": 0, "three-quarter": 0, "profile": 0}},
    }


def test_check_says_1_problem_not_1_problems(registry, clean_dataset, capsys):
    """Issue 25 item 13: one problem (the drawings' few-faces-found warning) reads `1 problem`."""
    clean_dataset(20)
    assert run(registry, "check") == 0
    out = capsys.readouterr().out
    assert "20 captions, 1 problem: ready" in out and "1 problems" not in out


def test_check_unknown_friend_is_a_clear_error(registry, folder, capsys):
    assert run(registry, "check", "nobody") == 2
    assert "peter" in capsys.readouterr().err


def test_prep_dry_run_then_prep(settings, friend, registry, folder, photos, capsys):
    photos.draw(1).save(folder / "shot.png")
    assert run(registry, "prep", "peter", "--dry-run") == 0
    assert "would prepare shot.png -> shot.jpg" in capsys.readouterr().out
    assert (folder / "shot.png").exists()
    assert run(registry, "prep", "peter") == 0
    assert (folder / "shot.jpg").exists() and (originals_dir(settings, friend) / "shot.png").exists()
    assert run(registry, "prep", "--all") == 0
    assert "prepared 0, skipped 0, already clean 1" in capsys.readouterr().out


def test_prep_reports_skipped_files_with_exit_1(registry, folder, capsys):
    (folder / "junk.jpg").write_bytes(b"nope")
    assert run(registry, "prep", "peter") == 1
    assert "skipped" in capsys.readouterr().out


def test_prep_without_name_is_an_error(registry, capsys):
    assert run(registry, "prep") == 2
    assert "--all" in capsys.readouterr().err


def test_captions_init_token_first_and_freq(registry, folder, photos, capsys):
    photos.jpeg(folder / "a.jpg", seed=1)
    photos.jpeg(folder / "b.jpg", seed=2)
    (folder / "b.txt").write_text("smile, qb_peter person\n", encoding="utf-8")
    assert run(registry, "captions", "peter", "--init", "--token-first", "--add", "glasses", "--freq") == 0
    out = capsys.readouterr().out
    assert "created 1 captions" in out and "token first in 1 captions" in out and "added to 2 captions" in out
    assert (folder / "a.txt").read_text(encoding="utf-8") == "qb_peter person, man, curly hair, glasses\n"
    assert (folder / "b.txt").read_text(encoding="utf-8") == "qb_peter person, smile, glasses\n"
    assert "qb_peter person  2" in out


def test_help_has_examples():
    parser = build_parser()
    for command in ("check", "prep", "captions"):
        action = next(a for a in parser._actions if a.dest == "command")
        assert "example" in action.choices[command].format_help()


def test_captions_lists_a_non_utf8_caption_and_exits_1(registry, folder, photos, capsys):
    photos.jpeg(folder / "a.jpg", seed=1)
    (folder / "a.txt").write_bytes(b"qb_peter caf\xe9")
    assert run(registry, "captions", "peter", "--token-first") == 1
    assert "left alone" in capsys.readouterr().out


def test_prep_all_reports_a_missing_folder_and_goes_on(registry, settings, capsys):
    with_two = registry.read_text(encoding="utf-8") + '\n[friends.anna]\nname = "Anna"\ntoken = "qb_anna"\n'
    registry.write_text(with_two, encoding="utf-8")
    anna = settings.datasets_dir / "anna" / "30_anna"
    anna.mkdir(parents=True)
    Image.new("RGB", (700, 500), "red").save(anna / "a.png")
    assert run(registry, "prep", "--all") == 1
    out = capsys.readouterr().out
    assert "Peter: not prepared" in out and "Anna: prepared 1" in out


def test_captions_reencode_fixes_a_non_utf8_caption_and_keeps_the_original(registry, settings, friend, folder, photos, capsys):
    photos.jpeg(folder / "a.jpg", seed=1)
    (folder / "a.txt").write_bytes(b"qb_peter person, caf\xe9")
    assert run(registry, "captions", "peter", "--reencode", "--add", "beard") == 0
    out = capsys.readouterr().out
    assert "re-encoded 1 captions" in out and "originals/a.not-utf8.txt" in out
    assert (folder / "a.txt").read_text(encoding="utf-8") == "qb_peter person, café, beard\n"
    assert (originals_dir(settings, friend) / "a.not-utf8.txt").read_bytes() == b"qb_peter person, caf\xe9"
