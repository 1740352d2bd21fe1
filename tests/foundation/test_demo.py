"""The demo workspace: every status the app knows, relative paths, safe rebuilds, the tiny model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import qbtui.demo
from qbtui.dataset import scan_friend
from qbtui.demo import MARKER, build_demo
from qbtui.errors import QbtuiError
from qbtui.registry import Registry

SCANNER_CODES_IN_BEN = {
    "not-512",
    "not-jpeg",
    "no-caption",
    "empty-caption",
    "token-missing",
    "token-not-first",
    "caption-not-utf8",
    "unreadable",
    "zero-bytes",
    "bad-mode",
    "transparency",
    "exif-rotation",
    "too-small",
    "near-duplicate",
    "stem-clash",
    "orphan-caption",
    "unsupported-type",
}


@pytest.fixture
def demo(demo_registry: Path) -> Registry:
    return Registry.load(demo_registry)


def test_registry_uses_relative_paths_and_the_demo_preset(demo: Registry) -> None:
    root = demo.path.parent
    assert demo.settings.datasets_dir == root / "datasets"
    assert demo.settings.base_model == root / "models/tiny-sd15"
    assert demo.settings.preset == "demo"
    assert {"standard", "fast", "quality", "demo"} == demo.presets.keys()
    flags = demo.presets["demo"].flags
    assert (flags["resolution"], flags["network_dim"], flags["mixed_precision"]) == ("64,64", 4, "no")
    assert flags["max_train_steps"] <= 100 and flags["save_every_n_steps"] < flags["max_train_steps"]
    assert 'datasets_dir = "datasets"' in demo.path.read_text()


def test_ada_is_ready(demo: Registry) -> None:
    status = scan_friend(demo.settings, demo.friends["ada"])
    assert status.image_count >= 20 and status.caption_count == status.image_count
    assert status.problem_count == 0 and status.ready


def test_ben_has_every_kind_of_problem(demo: Registry) -> None:
    status = scan_friend(demo.settings, demo.friends["ben"])
    assert {problem.code for problem in status.all_problems()} >= SCANNER_CODES_IN_BEN
    assert not status.ready
    near = [problem for problem in status.all_problems() if problem.code == "near-duplicate"]
    assert len(near) == 1 and "copy_of_first" in near[0].message


def test_cleo_has_too_few_photos(demo: Registry) -> None:
    status = scan_friend(demo.settings, demo.friends["cleo"])
    assert [problem.code for problem in status.all_problems()] == ["too-few-images"]


def test_an_existing_demo_is_reused_unless_forced(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    build_demo(folder, with_model=False)
    (folder / "datasets/ada/30_ada/mine.txt").write_text("kept")
    assert build_demo(folder, with_model=False) == folder / "registry.toml"
    assert (folder / "datasets/ada/30_ada/mine.txt").exists()
    build_demo(folder, with_model=False, force=True)
    assert not (folder / "datasets/ada/30_ada/mine.txt").exists()
    assert (folder / MARKER).is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["demo"]


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "precious.jpg").write_bytes(b"mine")
    with pytest.raises(QbtuiError, match="not a qbtui demo"):
        build_demo(tmp_path, with_model=False, force=True)
    assert [path.name for path in tmp_path.iterdir()] == ["precious.jpg"]


def test_a_failed_model_build_leaves_no_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(target: Path) -> None:
        raise QbtuiError("building the tiny model failed", path=target)

    monkeypatch.setattr(qbtui.demo, "build_tiny_model", fail)
    with pytest.raises(QbtuiError):
        build_demo(tmp_path / "demo")
    assert list(tmp_path.iterdir()) == []


def test_a_reused_demo_gets_its_missing_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Path] = []
    monkeypatch.setattr(qbtui.demo, "build_tiny_model", built.append)
    build_demo(tmp_path / "demo", with_model=False)
    build_demo(tmp_path / "demo")
    assert built == [tmp_path / "demo/models/tiny-sd15"]


def test_the_model_is_built_in_a_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    class Done:
        returncode, stdout, stderr = 1, "", "Traceback...\nModuleNotFoundError: No module named 'torch'"

    monkeypatch.setattr(qbtui.demo.subprocess, "run", lambda command, **kwargs: calls.append(command) or Done())
    with pytest.raises(QbtuiError, match="No module named 'torch'") as caught:
        qbtui.demo.build_tiny_model(tmp_path / "m")
    assert calls == [[sys.executable, "-m", "qbtui.trainer.tiny", str(tmp_path / "m")]]
    assert "scripts/setup" in caught.value.fix


def test_the_real_tiny_model_builds(tmp_path: Path) -> None:
    qbtui.demo.build_tiny_model(tmp_path / "tiny")
    assert (tmp_path / "tiny/model_index.json").is_file()
