"""The Dataset screen in a real terminal (issue 11): Fix all on the demo's Ben prepares every
photo and fixes every caption; token first gives the exact captions; `f` prepares one photo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from qbtui.demo import build_demo
from qbtui.registry import Registry

FIX_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo", with_model=False)


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo workspace (no model); its registry's path."""
    import shutil

    copy = tmp_path / "demo"
    shutil.copytree(demo_template.parent if demo_template.is_file() else demo_template, copy, symlinks=True)
    return copy / "registry.toml"


def ben_folder(registry: Path) -> Path:
    return registry.parent / "datasets" / "ben" / "30_ben"


def open_ben(qbtui_terminal, registry: Path, size=(80, 24)):
    terminal = qbtui_terminal(registry, size=size)
    terminal.wait_for(lambda screen: "Ben" in screen and "palette" in screen)
    terminal.send("Down", "d")
    terminal.wait_for("Dataset: Ben")
    terminal.wait_for("28 photos")
    return terminal


def select(terminal, registry: Path, name: str) -> None:
    """Highlight the photo `name` (rows are sorted by file name)."""
    names = sorted(path.name for path in ben_folder(registry).iterdir() if path.suffix.lower() in (".jpg", ".png"))
    terminal.send("Home", *["j"] * names.index(name))
    terminal.wait_for(f"Caption · {Path(name).stem}.txt")


def problems_left(registry: Path) -> set[str]:
    from qbtui.dataset import scan_friend

    registry_data = Registry.load(registry)
    status = scan_friend(registry_data.settings, registry_data.friends["ben"])
    return {problem.code for problem in status.all_problems()}


def test_fix_all_on_ben_prepares_every_photo_and_fixes_every_caption(demo: Path, qbtui_terminal) -> None:
    terminal = open_ben(qbtui_terminal, demo)
    terminal.send("F")
    fixable = {"not-512", "not-jpeg", "bad-mode", "transparency", "exif-rotation", "stem-clash", "no-caption"}
    fixable |= {"empty-caption", "token-missing", "token-not-first", "caption-not-utf8"}
    terminal.wait_until(lambda: not problems_left(demo) & fixable, timeout=FIX_TIMEOUT_S)
    screen = terminal.wait_for("28 captions", timeout=FIX_TIMEOUT_S)
    folder = ben_folder(demo)
    for photo in folder.iterdir():
        if photo.suffix.lower() in (".jpg", ".png") and photo.name not in ("broken.jpg", "empty.jpg"):
            with Image.open(photo) as image:
                assert (image.format, image.size, image.mode) == ("JPEG", (512, 512), "RGB"), photo.name
            assert photo.with_suffix(".txt").read_text(encoding="utf-8").startswith("qb_ben person"), photo.name
    assert (folder / "forgot_token.txt").read_text() == "qb_ben person, man, curly brown hair, glasses, friendly smile\n"
    assert (folder / "token_later.txt").read_text() == "qb_ben person, smiling, glasses\n"
    assert (folder / "latin1_caption.txt").read_text(encoding="utf-8") == "qb_ben person, café\n"
    assert not (folder.parent / ".qbtui-prep.lock").exists()
    assert " problems ─" in screen and "✓ cutout.jpg" in screen  # the count depends on the face checks
    assert problems_left(demo) == {"unreadable", "zero-bytes", "near-duplicate", "orphan-caption", "unsupported-type"}


@pytest.mark.parametrize(
    ("photo", "caption"),
    [
        ("forgot_token.jpg", "qb_ben person, man, curly brown hair, glasses, friendly smile\n"),
        ("token_later.jpg", "qb_ben person, smiling, glasses\n"),
    ],
)
def test_token_first_gives_the_exact_caption(demo: Path, qbtui_terminal, photo: str, caption: str) -> None:
    terminal = open_ben(qbtui_terminal, demo)
    select(terminal, demo, photo)
    terminal.send("t")
    path = ben_folder(demo) / Path(photo).with_suffix(".txt")
    terminal.wait_until(lambda: path.read_text(encoding="utf-8") == caption)
    terminal.wait_for(f"✓ {photo}")
    terminal.send("t")
    terminal.wait_for("0 captions changed")
    assert path.read_text(encoding="utf-8") == caption


def test_fix_on_a_black_and_white_photo_prepares_it(demo: Path, qbtui_terminal) -> None:
    terminal = open_ben(qbtui_terminal, demo)
    select(terminal, demo, "black_and_white.jpg")
    terminal.send("f")
    terminal.wait_for("✓ black_and_white.jpg", timeout=FIX_TIMEOUT_S)
    with Image.open(ben_folder(demo) / "black_and_white.jpg") as image:
        assert (image.size, image.mode) == ((512, 512), "RGB")
    assert (demo.parent / "datasets" / "ben" / "originals" / "black_and_white.jpg").is_file()
    assert not (ben_folder(demo).parent / ".qbtui-prep.lock").exists()
