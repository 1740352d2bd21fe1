"""qbtui.dataset.edits: every edit of one photo or all, what it reports and how undo puts it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbtui.dataset import captions, edits, scan_friend
from qbtui.errors import QbtuiError
from qbtui.registry import Friend, originals_dir

BEN = Friend(id="ben", name="Ben", token="qb_ben", repeats=30, describe="man")


@pytest.fixture
def ben_folder(settings) -> Path:
    path = settings.datasets_dir / "ben" / "30_ben"
    path.mkdir(parents=True)
    return path


def captioned(photos, folder: Path, stem: str, caption: str | bytes, seed: int = 1) -> Path:
    photo = photos.jpeg(folder / f"{stem}.jpg", seed=seed)
    data = caption if isinstance(caption, bytes) else caption.encode("utf-8")
    photo.with_suffix(".txt").write_bytes(data)
    return photo


def text_of(photo: Path) -> str:
    return photo.with_suffix(".txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("person, man, glasses", "qb_ben person, man, glasses\n"),
        ("smiling qb_ben person, glasses", "qb_ben person, smiling, glasses\n"),
    ],
)
def test_token_first_gives_the_exact_caption(settings, ben_folder, photos, caption, expected):
    photo = captioned(photos, ben_folder, "a", caption)
    edit = edits.token_first(settings, BEN, photo)
    assert text_of(photo) == expected
    assert edit.changed == (photo.with_suffix(".txt"),)
    assert edit.notes == ("qb_ben first: 1 caption changed",)


def test_token_first_on_a_correct_caption_changes_nothing(settings, ben_folder, photos):
    photo = captioned(photos, ben_folder, "a", "qb_ben person,man\n")
    edit = edits.token_first(settings, BEN, photo)
    assert edit.changed == () and not edit.undo
    assert edit.notes == ("qb_ben first: 0 captions changed",)
    assert photo.with_suffix(".txt").read_bytes() == b"qb_ben person,man\n"
    assert edits.token_first(settings, BEN).changed == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("person, man, curly brown hair", "qb_ben person, man, curly brown hair"),
        ("beard", "qb_ben person, beard"),
        ("smiling, qb_ben", "qb_ben, smiling"),
        ("", "qb_ben person"),
        ("glasses\nsecond line kept", "qb_ben person, glasses\nsecond line kept"),
    ],
)
def test_caption_with_token_first_is_the_rule_fix_all_writes(settings, ben_folder, photos, text, expected):
    """Issue 25 item 12: ctrl+t's text is exactly what `t` and Fix all write to the file."""
    photo = captioned(photos, ben_folder, "one", text + "\n", seed=3)
    assert captions.caption_with_token_first(text, BEN) == expected
    edits.token_first(settings, BEN, photo)
    written = photo.with_suffix(".txt").read_text(encoding="utf-8")
    assert written == (expected + "\n" if text else "\n")


def test_undo_puts_back_exactly_what_token_first_changed(settings, ben_folder, photos):
    first = captioned(photos, ben_folder, "a", "person, man, glasses\n", seed=1)
    second = captioned(photos, ben_folder, "b", "glasses\n", seed=2)
    edit = edits.token_first(settings, BEN)
    assert set(edit.changed) == {first.with_suffix(".txt"), second.with_suffix(".txt")}
    second.with_suffix(".txt").write_text("changed by hand\n", encoding="utf-8")
    result = edits.undo(edit.undo)
    assert text_of(first) == "person, man, glasses\n"
    assert result.left == (second.with_suffix(".txt"),)
    assert text_of(second) == "changed by hand\n"


def test_init_one_photo_and_undo_removes_the_new_caption(settings, ben_folder, photos):
    lone = photos.jpeg(ben_folder / "lone.jpg", seed=3)
    other = photos.jpeg(ben_folder / "other.jpg", seed=4)
    edit = edits.init_captions(settings, BEN, lone)
    assert text_of(lone) == "qb_ben person, man\n" and not other.with_suffix(".txt").exists()
    edits.undo(edit.undo)
    assert not lone.with_suffix(".txt").exists()


def test_reencode_keeps_the_original_and_editing_works_after(settings, ben_folder, photos):
    photo = captioned(photos, ben_folder, "latin", "qb_ben person, caf\xe9".encode("latin-1"))
    with pytest.raises(QbtuiError) as caught:
        edits.read_for_editing(settings, BEN, photo)
    assert "re-encode" in caught.value.fix
    edit = edits.reencode_caption(settings, BEN, photo.with_suffix(".txt"))
    assert text_of(photo) == "qb_ben person, café\n"
    kept = originals_dir(settings, BEN) / "latin.not-utf8.txt"
    assert kept.read_bytes() == "qb_ben person, caf\xe9".encode("latin-1")
    assert "originals/latin.not-utf8.txt" in edit.summary
    assert edits.read_for_editing(settings, BEN, photo) == "qb_ben person, café"
    edits.undo(edit.undo)
    assert photo.with_suffix(".txt").read_bytes() == "qb_ben person, caf\xe9".encode("latin-1")
    assert not kept.exists()  # undone in full: the copy kept of the original goes with it


def test_reencode_refuses_a_file_outside_the_training_folder(settings, ben_folder, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"caf\xe9")
    with pytest.raises(QbtuiError):
        edits.reencode_caption(settings, BEN, outside)
    assert outside.read_bytes() == b"caf\xe9"


def test_a_bad_caption_never_blocks_a_bulk_edit_of_the_others(settings, ben_folder, photos):
    good = captioned(photos, ben_folder, "good", "qb_ben person\n", seed=1)
    bad = captioned(photos, ben_folder, "bad", b"qb_ben caf\xe9", seed=2)
    edit = edits.add_tag(settings, BEN, "beard")
    assert text_of(good) == "qb_ben person, beard\n"
    assert [problem.path for problem in edit.skipped] == [bad.with_suffix(".txt")]
    assert "bad.txt" in edit.summary
    assert bad.with_suffix(".txt").read_bytes() == b"qb_ben caf\xe9"
    rename = edits.rename_tag(settings, BEN, "beard", "full beard")
    remove = edits.remove_tag(settings, BEN, "full beard")
    assert rename.changed == remove.changed == (good.with_suffix(".txt"),)
    edits.undo(remove.undo)
    assert text_of(good) == "qb_ben person, full beard\n"


def test_move_to_originals_and_undo_moves_back(settings, ben_folder, photos):
    photo = captioned(photos, ben_folder, "a", "qb_ben person\n")
    edit = edits.move_to_originals(settings, BEN, photo)
    assert not photo.exists() and (originals_dir(settings, BEN) / "a.jpg").exists()
    assert edit.notes == ("moved a.jpg and a.txt to originals/",)
    edits.undo(edit.undo)
    assert photo.exists() and photo.with_suffix(".txt").exists()
    assert not originals_dir(settings, BEN).exists()  # the folder the move created goes with the undo


def test_undo_keeps_an_originals_folder_it_did_not_create_or_that_holds_more(settings, ben_folder, photos):
    first = captioned(photos, ben_folder, "a", "qb_ben person\n")
    second = captioned(photos, ben_folder, "b", "qb_ben person\n", seed=2)
    originals = originals_dir(settings, BEN)
    moved_first = edits.move_to_originals(settings, BEN, first)
    edits.undo(edits.move_to_originals(settings, BEN, second).undo)
    assert originals.is_dir()  # there before that move
    (originals / "mine.txt").write_text("kept\n", encoding="utf-8")
    edits.undo(moved_first.undo)
    assert first.exists() and (originals / "mine.txt").is_file()


def test_fix_all_prepares_reencodes_and_fixes_every_caption(settings, ben_folder, photos):
    photos.jpeg(ben_folder / "wide.jpg", seed=1, size=(700, 500))
    (ben_folder / "wide.txt").write_text("person, man, glasses\n", encoding="utf-8")
    captioned(photos, ben_folder, "later", "smiling qb_ben person, glasses", seed=2)
    captioned(photos, ben_folder, "latin", "qb_ben person, caf\xe9".encode("latin-1"), seed=3)
    photos.jpeg(ben_folder / "bare.jpg", seed=4)
    seen = []
    edit = edits.fix(settings, BEN, progress=lambda done, total, path: seen.append((done, total)))
    assert seen == [(1, 1)]
    assert edit.error is None
    assert (ben_folder / "wide.txt").read_text() == "qb_ben person, man, glasses\n"
    assert (ben_folder / "later.txt").read_text() == "qb_ben person, smiling, glasses\n"
    assert (ben_folder / "latin.txt").read_text() == "qb_ben person, café\n"
    assert (ben_folder / "bare.txt").read_text() == "qb_ben person, man\n"
    remaining = {problem.code for problem in scan_friend(settings, BEN).all_problems()}
    assert remaining == {"too-few-images"}
    assert "prepared 1 photo" in edit.summary


def test_fix_one_png_follows_it_to_its_jpeg(settings, ben_folder, photos):
    from tests.dataset.conftest import draw_photo

    draw_photo(5, (600, 400)).save(ben_folder / "shot.png")
    edit = edits.fix(settings, BEN, ben_folder / "shot.png")
    assert edit.error is None
    assert (ben_folder / "shot.txt").read_text() == "qb_ben person, man\n"
    assert not (ben_folder / "shot.png").exists() and (ben_folder / "shot.jpg").exists()


@pytest.mark.parametrize("code", ["not-512", "no-caption", "token-not-first", "caption-not-utf8"])
def test_fix_all_clears_each_problem_it_can_fix(settings, ben_folder, photos, code):
    photos.jpeg(ben_folder / "wide.jpg", seed=1, size=(700, 500))
    photos.jpeg(ben_folder / "nocap.jpg", seed=2)
    (ben_folder / "wide.txt").write_text("man, qb_ben person\n", encoding="utf-8")
    captioned(photos, ben_folder, "latin", b"qb_ben caf\xe9", seed=3)
    assert code in {problem.code for problem in scan_friend(settings, BEN).all_problems()}
    assert edits.fix(settings, BEN).error is None
    assert code not in {problem.code for problem in scan_friend(settings, BEN).all_problems()}


def test_fix_creates_a_missing_folder(settings):
    edit = edits.fix(settings, BEN)
    assert edit.notes[0].startswith("created ") and (settings.datasets_dir / "ben" / "30_ben").is_dir()


def test_reencode_keeps_the_original_of_a_caption_with_a_250_byte_name(settings, ben_folder, photos):
    photo = captioned(photos, ben_folder, "é" * 123, b"qb_ben caf\xe9")
    edits.reencode_caption(settings, BEN, photo.with_suffix(".txt"))
    kept = list(originals_dir(settings, BEN).iterdir())
    assert len(kept) == 1 and len(kept[0].name.encode()) <= 255 and kept[0].name.endswith(".not-utf8.txt")
    assert kept[0].read_bytes() == b"qb_ben caf\xe9"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_undo_of_a_photo_fix_puts_the_original_back(settings, ben_folder, photos):
    """Issue 25 item 2: `f` on a PNG (prep to JPEG + token first), then undo: the folder is as before."""
    from PIL import Image

    Image.new("RGB", (700, 500), (200, 120, 60)).save(ben_folder / "beach.png")
    (ben_folder / "beach.txt").write_text("person, at the beach\n", encoding="utf-8")
    for index in range(3):
        captioned(photos, ben_folder, f"ok_{index}", "qb_ben person, man\n", seed=index + 10)
    root = ben_folder.parent
    before = tree(root)
    edit = edits.fix(settings, BEN, ben_folder / "beach.png")
    assert (ben_folder / "beach.jpg").is_file() and not (ben_folder / "beach.png").exists()
    assert (root / "originals" / "beach.png").is_file()
    result = edits.undo(edit.undo)
    assert result.left == ()
    assert tree(root) == before and not (root / "originals").exists()


def test_undo_of_fix_all_is_one_step_back_to_the_folder_as_it_was(settings, ben_folder, photos):
    """Issue 25 item 2: Fix all (preps, a renamed photo's caption moving along, captions written) undone at once."""
    from PIL import Image

    Image.new("RGBA", (600, 600), (10, 200, 60, 128)).save(ben_folder / "cut.png")
    (ben_folder / "cut.txt").write_text("glasses\n", encoding="utf-8")
    photos.jpeg(ben_folder / "wide.jpg", seed=5, size=(800, 600))
    Image.new("RGB", (640, 480), (90, 90, 200)).save(ben_folder / "same.png")  # stem clash with same.jpg
    captioned(photos, ben_folder, "same", "qb_ben person, beard\n", seed=6)
    captioned(photos, ben_folder, "plain", "person, man\n", seed=7)
    captioned(photos, ben_folder, "latin", "qb_ben person, caf\xe9\n".encode("cp1252"), seed=8)
    root = ben_folder.parent
    before = tree(root)
    edit = edits.fix(settings, BEN)
    assert tree(root) != before and edit.error is None
    result = edits.undo(edit.undo)
    assert result.left == ()
    assert tree(root) == before


def test_undo_leaves_a_prepared_photo_changed_since(settings, ben_folder, photos):
    photos.jpeg(ben_folder / "wide.jpg", seed=5, size=(800, 600))
    (ben_folder / "wide.txt").write_text("qb_ben person\n", encoding="utf-8")
    edit = edits.fix(settings, BEN, ben_folder / "wide.jpg")
    (ben_folder / "wide.jpg").write_bytes(b"changed by hand")
    result = edits.undo(edit.undo)
    assert ben_folder / "wide.jpg" in result.left
    assert (ben_folder / "wide.jpg").read_bytes() == b"changed by hand"
    assert (ben_folder.parent / "originals" / "wide.jpg").is_file()


def test_save_caption_refuses_to_write_over_a_change_made_since_the_edit_began(settings, ben_folder):
    caption = ben_folder / "photo.txt"
    caption.write_text("qb_ben person, old\n", encoding="utf-8")
    began = edits.caption_on_disk(settings, BEN, caption)
    caption.write_text("qb_ben person, changed by hand\n", encoding="utf-8")
    with pytest.raises(edits.ChangedOnDisk) as raised:
        edits.save_caption(settings, BEN, caption, "qb_ben person, typed", began_from=began)
    assert caption.read_text(encoding="utf-8") == "qb_ben person, changed by hand\n"
    assert "changed on disk" in raised.value.message and "ctrl+s again" in (raised.value.fix or "")
    edits.save_caption(settings, BEN, caption, "qb_ben person, typed", began_from=edits.caption_on_disk(settings, BEN, caption))
    assert caption.read_text(encoding="utf-8") == "qb_ben person, typed\n"
    missing = ben_folder / "new.txt"
    edits.save_caption(settings, BEN, missing, "qb_ben person", began_from=edits.caption_on_disk(settings, BEN, missing))
    assert missing.read_text(encoding="utf-8") == "qb_ben person\n"
