"""Dataset screen flows on the real app at 80x24: captions, fixes, prep, originals, tags, undo."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image
from textual.widgets import ProgressBar, Static, TextArea

from qbtui.dataset import edits
from qbtui.tui.screens.dataset import DatasetScreen
from qbtui.tui.widgets.caption_history import CaptionHistory
from qbtui.tui.widgets.dataset_confirm import ConfirmScreen
from qbtui.tui.widgets.dataset_list import DatasetImageList
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.tui.widgets.tag_editor import TagEditorScreen
from tests.tui.waiting import workers_idle


def folder(registry: Path, friend_id: str = "anna") -> Path:
    return registry.parent / "datasets" / friend_id / f"30_{friend_id}"


async def open_dataset(app, pilot, friend_id: str = "anna") -> DatasetScreen:
    await workers_idle(pilot)
    app.action_open_dataset(friend_id)
    await workers_idle(pilot)
    assert isinstance(app.screen, DatasetScreen)
    return app.screen


def lines(screen: DatasetScreen) -> dict[str, str]:
    """Each photo's list line, by file name."""
    image_list = screen.query_one(DatasetImageList)
    return {image.path.name: str(image_list.get_option_at_index(row).prompt) for row, image in enumerate(image_list.images)}


def notifications(app) -> str:
    return "\n".join(notice.message for notice in app.notices.items)


async def test_list_shows_status_per_photo_and_previews_the_selection(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        shown = lines(screen)
        assert len(shown) == 12
        assert shown["photo_00.jpg"] == "✓ photo_00.jpg"
        assert shown["photo_09.jpg"] == "✗ photo_09.jpg no caption"
        assert "too few photos" in str(screen.query_one("#dataset-summary", Static).content)
        preview = screen.query_one(ImagePreview)
        assert preview.shown == folder(demo_registry) / "photo_00.jpg"
        assert screen.query_one("#caption", TextArea).text == "qb_anna person, smiling, photo 0"
        await pilot.press("j", "j")
        await workers_idle(pilot)
        assert preview.shown == folder(demo_registry) / "photo_02.jpg"
        await pilot.press("k")
        await workers_idle(pilot)
        assert preview.shown == folder(demo_registry) / "photo_01.jpg"


async def test_writing_a_caption_makes_its_problem_disappear_without_a_key_press(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        await pilot.press("n")
        assert screen.query_one(DatasetImageList).selected.path.name == "photo_09.jpg"
        await pilot.press("e")
        assert screen.editing and screen.query_one("#caption", TextArea).text == "qb_anna person, person, smiling"
        await pilot.press(*", red scarf", "ctrl+s")
        await workers_idle(pilot)
        assert not screen.editing
        caption = folder(demo_registry) / "photo_09.txt"
        assert caption.read_text() == "qb_anna person, person, smiling, red scarf\n"
        assert lines(screen)["photo_09.jpg"] == "✓ photo_09.jpg"


async def test_escape_then_discard_cancels_an_edit_and_leaves_the_file_alone(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        caption = folder(demo_registry) / "photo_00.txt"
        before = caption.read_text()
        await pilot.press("e", *" typo", "escape", "d")
        await workers_idle(pilot)
        assert not screen.editing and isinstance(app.screen, DatasetScreen)
        assert caption.read_text() == before
        assert screen.query_one("#caption", TextArea).text == before.strip()


async def test_insert_token_then_token_first_then_undo(demo_registry, app_factory):
    """Issue 25 item 12: ctrl+t puts the token phrase first by the rule `t` and Fix all use."""
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        caption = folder(demo_registry) / "photo_00.txt"
        original = caption.read_text()
        await pilot.press("e", "ctrl+u", *"smiling, hat", "ctrl+t")
        assert screen.query_one("#caption", TextArea).text == "qb_anna person, smiling, hat"
        await pilot.press(*", red", "ctrl+s")
        await workers_idle(pilot)
        assert caption.read_text() == "qb_anna person, smiling, hat, red\n"
        assert lines(screen)["photo_00.jpg"] == "✓ photo_00.jpg"
        await pilot.press("e", "ctrl+u", *"smiling, qb_anna", "ctrl+s")
        await workers_idle(pilot)
        assert lines(screen)["photo_00.jpg"] == "! photo_00.jpg token not first"
        await pilot.press("t")
        await workers_idle(pilot)
        assert caption.read_text() == "qb_anna, smiling\n"
        assert lines(screen)["photo_00.jpg"] == "✓ photo_00.jpg"
        await pilot.press("u")
        await workers_idle(pilot)
        assert caption.read_text() == "smiling, qb_anna\n"
        await pilot.press("ctrl+z", "u")
        await workers_idle(pilot)
        assert caption.read_text() == original
        await pilot.press("u")
        await workers_idle(pilot)
        assert "nothing to undo" in notifications(app)


async def test_t_on_a_caption_without_the_token_writes_what_fix_all_writes(demo_registry, app_factory):
    """Issue 25 item 12: `t` on `person, man, ...` gives the guide's `qb_anna person, man, ...`, as Fix all does."""
    caption = folder(demo_registry) / "photo_01.txt"
    caption.write_text("person, man, curly hair\n")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dataset(app, pilot)
        await pilot.press("j", "t")
        await workers_idle(pilot)
        assert caption.read_text() == "qb_anna person, man, curly hair\n"
        caption.write_text("person, man, curly hair\n")
        await pilot.press("F", "y")
        await workers_idle(pilot)
        assert caption.read_text() == "qb_anna person, man, curly hair\n"


async def test_next_problem_wraps_around(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        visited = []
        for _ in range(4):
            await pilot.press("n")
            visited.append(screen.query_one(DatasetImageList).selected.path.name)
        assert visited == ["photo_09.jpg", "photo_10.jpg", "photo_11.jpg", "photo_09.jpg"]


async def test_prep_from_the_dataset_screen_turns_a_png_into_a_jpeg_and_keeps_the_original(demo_registry, app_factory):
    Image.new("RGBA", (700, 500), (200, 120, 60, 255)).save(folder(demo_registry) / "beach.png")
    (folder(demo_registry) / "beach.txt").write_text("qb_anna person, at the beach\n")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        assert lines(screen)["beach.png"].startswith("✗ beach.png not a JPEG")
        await pilot.press("f")
        await workers_idle(pilot)
        assert not (folder(demo_registry) / "beach.png").exists()
        with Image.open(folder(demo_registry) / "beach.jpg") as prepared:
            assert (prepared.format, prepared.size) == ("JPEG", (512, 512))
        assert (demo_registry.parent / "datasets" / "anna" / "originals" / "beach.png").is_file()
        assert lines(screen)["beach.jpg"] == "✓ beach.jpg"
        bar = screen.query_one("#dataset-progress", ProgressBar)
        assert bar.total == 1 and bar.progress == 1 and not bar.has_class("-running")
        assert "prepared 1 photo" in notifications(app)


async def test_fix_all_writes_the_missing_captions_and_undo_removes_them(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        await pilot.press("F", "y")
        await workers_idle(pilot)
        created = [folder(demo_registry) / f"photo_{index:02d}.txt" for index in (9, 10, 11)]
        assert all(path.read_text() == "qb_anna person, person, smiling\n" for path in created)
        assert screen.status.caption_count == 12
        assert all(line.startswith("✓") for line in lines(screen).values())
        await pilot.press("u")
        await workers_idle(pilot)
        assert not any(path.exists() for path in created)
        assert lines(screen)["photo_10.jpg"] == "✗ photo_10.jpg no caption"


async def test_move_to_originals_asks_first(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await workers_idle(pilot)
        assert (folder(demo_registry) / "photo_00.jpg").exists()
        await pilot.press("o")
        await pilot.pause()
        await pilot.press("y")
        await workers_idle(pilot)
        originals = demo_registry.parent / "datasets" / "anna" / "originals"
        assert (originals / "photo_00.jpg").is_file() and (originals / "photo_00.txt").is_file()
        assert not (folder(demo_registry) / "photo_00.jpg").exists()
        assert "photo_00.jpg" not in lines(screen) and len(lines(screen)) == 11


async def test_bulk_tag_rename_shows_frequencies_and_can_be_undone(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        await pilot.press("b")
        await workers_idle(pilot)
        editor = app.screen
        assert isinstance(editor, TagEditorScreen)
        assert editor.frequencies[:2] == [("qb_anna person", 9), ("smiling", 9)]
        await pilot.press(*"smiling")
        await pilot.press("shift+tab", "right", "right", "space")
        await pilot.press("tab", "tab", *"grinning", "enter")
        await workers_idle(pilot)
        captions = sorted(folder(demo_registry).glob("*.txt"))
        assert len(captions) == 9
        assert all(", grinning," in path.read_text() for path in captions)
        assert "renamed 'smiling': 9 captions changed" in notifications(app)
        await pilot.press("u")
        await workers_idle(pilot)
        assert all(", smiling," in path.read_text() for path in captions)
        assert isinstance(app.screen, DatasetScreen) and screen.history.pop() is None


async def test_tag_editor_refuses_an_unknown_tag_inline(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dataset(app, pilot)
        await pilot.press("b")
        await workers_idle(pilot)
        await pilot.press("shift+tab", "right", "space", "tab", *"hat", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TagEditorScreen)
        assert str(app.screen.query_one("#tag-error", Static).content) == "no caption has the tag 'hat'"


async def test_captions_written_elsewhere_update_the_screen_live(demo_registry, app_factory, until):
    app = app_factory(demo_registry, watch=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        assert lines(screen)["photo_10.jpg"].startswith("✗")
        (folder(demo_registry) / "photo_10.txt").write_text("qb_anna person, in a hat\n")
        await until(pilot, lambda: lines(screen)["photo_10.jpg"] == "✓ photo_10.jpg")


async def test_bindings_have_ids_that_a_keymap_can_rebind(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        assert all(binding.id and binding.id.startswith("dataset.") for binding in DatasetScreen.BINDINGS)
        app.set_keymap({"dataset.next_problem": "x"})
        await pilot.press("x")
        assert screen.query_one(DatasetImageList).selected.path.name == "photo_09.jpg"


def test_undo_never_overwrites_a_caption_changed_since(tmp_path: Path):
    caption = tmp_path / "a.txt"
    caption.write_text("after\n")
    history = CaptionHistory(limit=2)
    assert not history.record(edits.UndoRecord("nothing"))
    history.record(edits.UndoRecord("one", (edits.FileChange(caption, b"before\n", b"after\n"),)))
    caption.write_text("edited by hand\n")
    result = edits.undo(history.pop())
    assert result.left == (caption,) and result.restored == ()
    assert caption.read_text() == "edited by hand\n"
    for label in ("a", "b", "c"):
        history.record(edits.UndoRecord(label, (edits.FileChange(caption, None, label.encode()),)))
    assert len(history) == 2 and history.pop().label == "c"


async def test_a_rescan_during_an_edit_never_redirects_the_save(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        await pilot.press("e", *", hat")
        (folder(demo_registry) / "photo_00.jpg").rename(demo_registry.parent / "elsewhere.jpg")
        screen.rescan()
        await workers_idle(pilot)
        assert screen.editing and screen.query_one(DatasetImageList).selected.path.name == "photo_01.jpg"
        await pilot.press("ctrl+s")
        await workers_idle(pilot)
        assert (folder(demo_registry) / "photo_00.txt").read_text() == "qb_anna person, smiling, photo 0, hat\n"
        assert (folder(demo_registry) / "photo_01.txt").read_text() == "qb_anna person, smiling, photo 1\n"


async def test_fix_all_creates_a_missing_training_folder(demo_registry, app_factory):
    shutil.rmtree(folder(demo_registry, "sam"))
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot, "sam")
        assert "no folder" in str(screen.query_one("#dataset-summary", Static).content)
        await pilot.press("ctrl+f", "y")
        await workers_idle(pilot)
        assert folder(demo_registry, "sam").is_dir()
        assert "no folder" not in str(screen.query_one("#dataset-summary", Static).content)
        assert f"no photos yet: copy some into {folder(demo_registry, 'sam')}" in str(
            screen.query_one("#dataset-problems", Static).content
        )


async def test_bulk_tag_add_and_remove(demo_registry, app_factory):
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dataset(app, pilot)
        captions = sorted(folder(demo_registry).glob("*.txt"))
        await pilot.press("b")
        await workers_idle(pilot)
        await pilot.press(*"red scarf", "enter")
        await workers_idle(pilot)
        assert all(path.read_text().rstrip().endswith(", red scarf") for path in captions)
        await pilot.press("b")
        await workers_idle(pilot)
        assert ("red scarf", 9) in app.screen.frequencies
        await pilot.press(*"smiling", "shift+tab", "right", "space", "ctrl+s")
        await workers_idle(pilot)
        assert isinstance(app.screen, DatasetScreen)
        assert not any("smiling" in path.read_text() for path in captions)


async def test_loose_files_are_listed_with_their_file_and_o_moves_them_out(demo_registry, app_factory):
    (folder(demo_registry) / "notes.pdf").write_bytes(b"%PDF")
    (folder(demo_registry) / "lost.txt").write_text("qb_anna person\n")
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        image_list = screen.query_one(DatasetImageList)
        rows = [str(image_list.get_option_at_index(row).prompt) for row in range(image_list.option_count)]
        assert rows[-2:] == ["! lost.txt caption, no photo", "! notes.pdf not an image"]
        summary = str(screen.query_one("#dataset-summary", Static).content)
        assert "2 files that are not photos" in summary and "orphan" not in summary
        image_list.highlighted = image_list.option_count - 1
        await pilot.pause()
        problems = str(screen.query_one("#dataset-problems", Static).content)
        assert "not an image" in problems and "o: move it to originals/" in problems
        assert "unsupported-type" not in problems
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await workers_idle(pilot)
        originals = demo_registry.parent / "datasets" / "anna" / "originals"
        assert (originals / "notes.pdf").is_file() and not (folder(demo_registry) / "notes.pdf").exists()
        await pilot.press("u")
        await workers_idle(pilot)
        assert (folder(demo_registry) / "notes.pdf").is_file()


async def test_a_non_utf8_caption_is_re_encoded_by_f_and_then_editable(demo_registry, app_factory):
    caption = folder(demo_registry) / "photo_00.txt"
    caption.write_bytes("qb_anna person, caf\xe9".encode("latin-1"))
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        assert lines(screen)["photo_00.jpg"] == "✗ photo_00.jpg caption not UTF-8"
        problems = str(screen.query_one("#dataset-problems", Static).content)
        assert problems.startswith("f: re-encode the caption as UTF-8 (original kept)")
        await pilot.press("e")
        await pilot.pause()
        assert not screen.editing and "re-encode it first" in notifications(app)
        await pilot.press("b")
        await workers_idle(pilot)
        await pilot.press(*"red scarf", "enter")
        await workers_idle(pilot)
        assert (folder(demo_registry) / "photo_01.txt").read_text().endswith(", red scarf\n")
        assert "left alone: photo_00.txt" in notifications(app)
        await pilot.press("f")
        await workers_idle(pilot)
        assert caption.read_text(encoding="utf-8") == "qb_anna person, café\n"
        assert lines(screen)["photo_00.jpg"] == "✓ photo_00.jpg"
        await pilot.press("e")
        await pilot.pause()
        assert screen.editing and screen.query_one("#caption", TextArea).text == "qb_anna person, café"


async def test_a_failing_worker_is_reported_to_the_user(demo_registry, app_factory, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("bad value(s) in fds_to_keep")

    monkeypatch.setattr(edits, "fix", broken)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        await pilot.press("F", "y")
        await workers_idle(pilot)
        assert "run fix failed: ValueError: bad value(s) in fds_to_keep" in notifications(app)
        assert not screen.query_one("#dataset-progress", ProgressBar).has_class("-running")
        assert isinstance(app.screen, DatasetScreen)


def files_below(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


async def test_undo_after_f_puts_the_original_photo_back(demo_registry, app_factory):
    """Issue 25 item 2: `f` prepares a PNG (original to originals/), `u` restores it exactly."""
    Image.new("RGB", (700, 500), (200, 120, 60)).save(folder(demo_registry) / "beach.png")
    (folder(demo_registry) / "beach.txt").write_text("qb_anna person, at the beach\n")
    root = folder(demo_registry).parent
    before = files_below(root)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dataset(app, pilot)
        await pilot.press("f")
        await workers_idle(pilot)
        assert (folder(demo_registry) / "beach.jpg").is_file() and (root / "originals" / "beach.png").is_file()
        await pilot.press("u")
        await workers_idle(pilot)
        assert "undid: fix beach.png" in notifications(app)
        assert files_below(root) == before
        assert lines(screen)["beach.png"].startswith("✗ beach.png not a JPEG")


async def test_fix_all_asks_first_and_is_undone_in_one_step(demo_registry, app_factory):
    """Issue 25 item 2: F asks (n changes nothing); y fixes everything; one `u` puts it all back."""
    Image.new("RGBA", (700, 500), (200, 120, 60, 100)).save(folder(demo_registry) / "beach.png")
    root = folder(demo_registry).parent
    before = files_below(root)
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dataset(app, pilot)
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "u undoes all of it in one step" in str(app.screen.query_one("#confirm-question", Static).content)
        await pilot.press("n")
        await workers_idle(pilot)
        assert files_below(root) == before
        await pilot.press("F", "y")
        await workers_idle(pilot)
        assert files_below(root) != before and (folder(demo_registry) / "beach.jpg").is_file()
        await pilot.press("u")
        await workers_idle(pilot)
        assert files_below(root) == before
        await pilot.press("u")
        await workers_idle(pilot)
        assert notifications(app).endswith("nothing to undo")
