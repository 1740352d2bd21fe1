"""The Dataset screen in a real terminal (issue 11): Fix all on the demo's Ben prepares every
photo and fixes every caption; token first gives the exact captions; `f` prepares one photo."""

from __future__ import annotations

import time
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
    terminal.wait_for(f"{len(photo_names(registry))} photos")
    return terminal


def photo_names(registry: Path) -> list[str]:
    """Ben's photos (and would-be photos), sorted by file name as the list shows them."""
    return sorted(path.name for path in ben_folder(registry).iterdir() if path.suffix.lower() in (".jpg", ".png"))


def select(terminal, registry: Path, name: str) -> None:
    """Highlight the photo `name` (rows are sorted by file name)."""
    terminal.send("Home", *["j"] * photo_names(registry).index(name))
    terminal.wait_for(f"Caption · {Path(name).stem}.txt")


def problems_left(registry: Path) -> set[str]:
    from qbtui.dataset import scan_friend

    registry_data = Registry.load(registry)
    status = scan_friend(registry_data.settings, registry_data.friends["ben"])
    return {problem.code for problem in status.all_problems()}


def test_fix_all_on_ben_prepares_every_photo_and_fixes_every_caption(demo: Path, qbtui_terminal) -> None:
    terminal = open_ben(qbtui_terminal, demo)
    photo_count = len(photo_names(demo))
    terminal.send("F")
    terminal.wait_for("u undoes all of it in one step")
    terminal.send("y")
    fixable = {"not-512", "not-jpeg", "bad-mode", "transparency", "exif-rotation", "stem-clash", "no-caption"}
    fixable |= {"empty-caption", "token-missing", "token-not-first", "caption-not-utf8"}
    terminal.wait_until(lambda: not problems_left(demo) & fixable, timeout=FIX_TIMEOUT_S)
    screen = terminal.wait_for(f"{photo_count} captions", timeout=FIX_TIMEOUT_S)  # each photo has one
    folder = ben_folder(demo)
    for photo in folder.iterdir():
        if photo.suffix.lower() in (".jpg", ".png") and photo.name not in ("broken.jpg", "empty.jpg"):
            with Image.open(photo) as image:
                assert (image.format, image.size, image.mode) == ("JPEG", (512, 512), "RGB"), photo.name
            assert photo.with_suffix(".txt").read_text(encoding="utf-8").startswith("qb_ben person"), photo.name
    assert (folder / "forgot_token.txt").read_text() == "qb_ben person, man, short brown hair, full beard, thick eyebrows\n"
    assert (folder / "token_later.txt").read_text() == "qb_ben person, smiling, glasses\n"
    assert (folder / "latin1_caption.txt").read_text(encoding="utf-8") == "qb_ben person, café\n"
    assert not (folder.parent / ".qbtui-prep.lock").exists()
    assert " problems ─" in screen and "✓ cutout.jpg" in screen  # the count depends on the face checks
    assert problems_left(demo) == {"unreadable", "zero-bytes", "near-duplicate", "orphan-caption", "unsupported-type"}


@pytest.mark.parametrize(
    ("photo", "caption"),
    [
        ("forgot_token.jpg", "qb_ben person, man, short brown hair, full beard, thick eyebrows\n"),
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


def test_ctrl_q_with_an_unsaved_caption_asks_and_save_writes_it(demo: Path, qbtui_terminal) -> None:
    """Issue 24 item 1: typed text then ctrl+q asks (Save / Discard / Cancel); s saves, then quits."""
    terminal = open_ben(qbtui_terminal, demo)
    select(terminal, demo, "ben_01.jpg")
    caption = ben_folder(demo) / "ben_01.txt"
    before = caption.read_text(encoding="utf-8")
    terminal.send("e")
    terminal.wait_for("Editing · ben_01.txt")
    terminal.type(", sunglasses")
    terminal.wait_for("sunglasses")
    terminal.send("C-q")
    screen = terminal.wait_for(lambda shown: "Discard (d)" in shown and "d Discard" in shown)
    assert "ben_01.txt has changes that are not saved" in screen and "Unsaved caption" in screen
    assert not terminal.exited and caption.read_text(encoding="utf-8") == before
    terminal.send("Escape")
    terminal.wait_for(lambda shown: "Unsaved caption" not in shown and "Editing · ben_01.txt" in shown)
    terminal.send("C-q")
    terminal.wait_for("Unsaved caption")
    terminal.send("s")
    terminal.wait_until(lambda: terminal.exited)
    assert caption.read_text(encoding="utf-8") == before.strip() + ", sunglasses\n"


def test_a_then_zoe_in_one_burst_lands_in_the_name_field(demo: Path, qbtui_terminal) -> None:
    """Issue 25 item 5: `aZoe` in one send-keys (as a laggy SSH link delivers it)."""
    terminal = qbtui_terminal(demo)
    terminal.wait_for(lambda screen: "Ben" in screen and "palette" in screen)
    terminal.send("aZoe")
    screen = terminal.wait_for("token: qb_zoe")
    assert "Zoe" in screen


def test_b_then_typing_lands_in_the_tag_field(demo: Path, qbtui_terminal) -> None:
    """Issue 25 item 5: `b` and a tag in one burst: the tag editor opens with the tag typed, nothing else opens."""
    terminal = open_ben(qbtui_terminal, demo)
    terminal.send("bhat")
    screen = terminal.wait_for(lambda shown: "Tags across" in shown and "Tag         hat" in shown)
    assert "Move to originals" not in screen and "Editing" not in screen


def test_the_notices_log_opens_on_the_newest_notice(demo: Path, qbtui_terminal) -> None:
    """Issue 25 item 1: ctrl+l shows the newest notice at the top, however many came before."""
    terminal = open_ben(qbtui_terminal, demo)
    terminal.send("Home", *["u"] * 20, "f")  # twenty "nothing to undo", then "nothing to fix" last
    terminal.send("C-l")

    def log_filled(screen: str) -> bool:
        return "Notifications (newest first)" in screen and "nothing to undo" in screen and "esc Close" in screen

    terminal.wait_for(log_filled)
    time.sleep(1)  # a log that scrolls itself does so as it fills: look again once it has
    lines = terminal.wait_for(log_filled).splitlines()
    top = next(index for index, line in enumerate(lines) if "Notifications (newest first)" in line)
    assert "nothing to fix for ben_01.jpg" in "\n".join(lines[top : top + 4]), "\n".join(lines)


def test_footers_say_how_to_quit_and_go_back_at_80_columns_and_q_quits(demo: Path, qbtui_terminal) -> None:
    """Issue 25 item 13: `q Quit` and `f1 Help` on the dashboard's last row, `esc Back` on the dataset's; q quits."""
    terminal = open_ben(qbtui_terminal, demo)
    terminal.wait_for(lambda screen: "esc Back" in screen.splitlines()[-1] and "f1 Help" in screen.splitlines()[-1])
    terminal.send("Escape")
    terminal.wait_for(lambda screen: "Dataset: Ben" not in screen and "q Quit" in screen.splitlines()[-1])
    assert "f1 Help" in terminal.screen().splitlines()[-1]
    terminal.send("q")
    terminal.wait_until(lambda: terminal.exited)


def test_undo_after_f_puts_the_original_back(demo: Path, qbtui_terminal) -> None:
    """Issue 25 item 2: `f` on a photo, then `u`: the photo is back byte for byte, originals/ holds nothing of it."""
    terminal = open_ben(qbtui_terminal, demo)
    photo = ben_folder(demo) / "black_and_white.jpg"
    kept = demo.parent / "datasets" / "ben" / "originals" / "black_and_white.jpg"
    before = photo.read_bytes()
    select(terminal, demo, "black_and_white.jpg")
    terminal.send("f")
    terminal.wait_for("✓ black_and_white.jpg", timeout=FIX_TIMEOUT_S)
    assert kept.is_file() and photo.read_bytes() != before
    terminal.send("u")
    terminal.wait_until(lambda: not kept.exists() and photo.is_file() and photo.read_bytes() == before)
    terminal.wait_for("✗ black_and_white.jpg")
