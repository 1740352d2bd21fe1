"""A caption that is a link out of the datasets folder is never read, written or replaced.

`qbtui captions --token-first/--add/--remove/--init`, the editor's read and save, undo and
the tag counts all apply `captions.outside_caption`, the rule `check`'s `link-outside` uses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qbtui.cli
from qbtui.cli import main
from qbtui.dataset import edits, scan_friend, tag_frequencies
from qbtui.errors import QbtuiError

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
OUTSIDE_TEXT = "secret words, smiling\n"


@pytest.fixture(autouse=True)
def present_topics_only(monkeypatch):
    """Other topics' CLI modules land in parallel; register only the ones present."""
    import importlib.util

    present = tuple(name for name in qbtui.cli.TOPIC_MODULES if importlib.util.find_spec(f"qbtui.cli.{name}"))
    monkeypatch.setattr(qbtui.cli, "TOPIC_MODULES", present)


@pytest.fixture
def registry(settings) -> Path:
    path = settings.datasets_dir.parent / "registry.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(REGISTRY, encoding="utf-8")
    return path


@pytest.fixture
def linked(folder: Path, photos, tmp_path: Path) -> tuple[Path, Path]:
    """Two captioned photos and a third whose caption links to a file outside: (link, target)."""
    for index in range(2):
        photo = photos.jpeg(folder / f"p{index}.jpg", seed=index)
        photo.with_suffix(".txt").write_text("man, qb_peter person\n", encoding="utf-8")
    photos.jpeg(folder / "linked.jpg", seed=5)
    target = tmp_path / "outside" / "cap.txt"
    target.parent.mkdir()
    target.write_text(OUTSIDE_TEXT, encoding="utf-8")
    link = folder / "linked.txt"
    os.symlink(target, link)
    return link, target


def unchanged(link: Path, target: Path) -> bool:
    return link.is_symlink() and os.readlink(link) == str(target) and target.read_text(encoding="utf-8") == OUTSIDE_TEXT


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--token-first",), "token first in 2 captions"),
        (("--add", "glasses"), "added to 2 captions"),
        (("--remove", "smiling"), "removed from 0 captions"),
        (("--rename", "man", "guy"), "renamed in 2 captions"),
        (("--init",), "created 0 captions"),
    ],
)
def test_captions_commands_leave_a_caption_linked_outside_alone_and_say_why(registry, linked, capsys, argv, said):
    link, target = linked
    assert main(["--registry", str(registry), "captions", "peter", *argv]) == 1
    out = capsys.readouterr().out
    assert said in out
    assert f"left alone: {link}: links to {target}, outside the datasets folder" in out
    assert "fix: replace the link with a real file" in out
    assert unchanged(link, target)


def test_check_names_the_link_on_its_photo_instead_of_no_caption(settings, friend, linked):
    link, target = linked
    status = scan_friend(settings, friend)
    (row,) = [image for image in status.images if image.path.name == "linked.jpg"]
    assert [problem.code for problem in row.problems] == ["link-outside"]
    assert row.problems[0].path == link and str(target) in row.problems[0].message
    assert "replace the link with a real file" in row.problems[0].fix
    assert [problem.code for problem in status.problems].count("link-outside") == 0
    assert edits.fixable_actions(row.problems) == []


def test_the_editor_refuses_a_caption_linked_outside_and_save_writes_nothing(settings, friend, linked):
    link, target = linked
    with pytest.raises(QbtuiError) as refused:
        edits.read_for_editing(settings, friend, link.with_suffix(".jpg"))
    assert f"linked.txt cannot be edited: it links to {target}" in refused.value.message
    assert "replace the link with a real file" in (refused.value.fix or "")
    with pytest.raises(QbtuiError):
        edits.caption_on_disk(settings, friend, link)
    with pytest.raises(QbtuiError):
        edits.save_caption(settings, friend, link, "qb_peter person, typed", began_from=None)
    assert unchanged(link, target)


def test_tag_counts_leave_out_a_caption_linked_outside(settings, friend, linked):
    assert dict(tag_frequencies(settings, friend)) == {"man": 2, "qb_peter person": 2}


def test_undo_leaves_a_link_put_where_the_edit_wrote(settings, friend, folder, photos, tmp_path):
    """Even a link to a file holding just what the edit wrote: undo neither reads nor replaces it."""
    caption = photos.jpeg(folder / "p0.jpg", seed=0).with_suffix(".txt")
    caption.write_text("man, qb_peter person\n", encoding="utf-8")
    edit = edits.token_first(settings, friend)
    target = tmp_path / "same.txt"
    target.write_bytes(caption.read_bytes())
    caption.unlink()
    os.symlink(target, caption)
    result = edits.undo(edit.undo)
    assert caption in result.left and caption.is_symlink()
    assert target.read_text(encoding="utf-8") == "qb_peter person, man\n"


def test_a_caption_linked_inside_the_friends_folder_is_still_edited_as_before(settings, friend, folder, linked):
    """A link inside the datasets folder is read through and replaced by a regular file; its target stays."""
    inside = folder.parent / "shared.txt"
    inside.write_text("man, qb_peter person\n", encoding="utf-8")
    (folder / "p1.txt").unlink()
    os.symlink(inside, folder / "p1.txt")
    edits.token_first(settings, friend)
    assert not (folder / "p1.txt").is_symlink()
    assert (folder / "p1.txt").read_text(encoding="utf-8") == "qb_peter person, man\n"
    assert inside.read_text(encoding="utf-8") == "man, qb_peter person\n"
