"""Captions: template init, token first, bulk tag edits, frequencies, UTF-8 errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbtui.dataset import (
    add_tag,
    init_captions,
    read_caption,
    remove_tag,
    rename_tag,
    scan_friend,
    tag_frequencies,
    token_first,
    write_caption,
)
from qbtui.dataset.captions import put_token_first
from qbtui.errors import QbtuiError


@pytest.fixture
def three(folder: Path, photos) -> list[Path]:
    return [photos.jpeg(folder / f"p{index}.jpg", seed=index) for index in range(3)]


def caption_of(photo: Path) -> str:
    return photo.with_suffix(".txt").read_text(encoding="utf-8")


def test_init_writes_template_where_missing_or_empty_only(settings, friend, three):
    three[1].with_suffix(".txt").write_text("   \n", encoding="utf-8")
    three[2].with_suffix(".txt").write_text("qb_peter person, beard\n", encoding="utf-8")
    written = init_captions(settings, friend)
    assert written == [three[0].with_suffix(".txt"), three[1].with_suffix(".txt")]
    assert caption_of(three[0]) == "qb_peter person, man, curly hair\n"
    assert caption_of(three[2]) == "qb_peter person, beard\n"
    assert all(not {p.code for p in image.problems} for image in scan_friend(settings, friend).images)


def test_init_leaves_a_non_utf8_caption_alone(settings, friend, three):
    three[0].with_suffix(".txt").write_bytes(b"qb_peter caf\xe9")
    written = init_captions(settings, friend)
    assert [p.path for p in written.skipped] == [three[0].with_suffix(".txt")]
    assert three[0].with_suffix(".txt").read_bytes() == b"qb_peter caf\xe9"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("qb_peter person, man", "qb_peter person, man"),
        ("man, qb_peter person, glasses", "qb_peter person, man, glasses"),
        ("man, glasses", "qb_peter person, man, glasses"),
        ("happy qb_peter, glasses", "qb_peter person, happy, glasses"),
        ("person, man", "qb_peter person, man"),
        ("smiling qb_peter person, glasses", "qb_peter person, smiling, glasses"),
        ("qb_peter person,man", "qb_peter person,man"),
        ("", "qb_peter person"),
    ],
)
def test_put_token_first(friend, line, expected):
    assert put_token_first(line, friend) == expected


def test_token_first_fixes_the_files_and_keeps_extra_lines(settings, friend, three):
    write_caption(three[0].with_suffix(".txt"), "man, qb_peter person\nsecond line")
    write_caption(three[1].with_suffix(".txt"), "glasses")
    write_caption(three[2].with_suffix(".txt"), "qb_peter person, ok")
    changed = token_first(settings, friend)
    assert changed == [three[0].with_suffix(".txt"), three[1].with_suffix(".txt")]
    assert caption_of(three[0]) == "qb_peter person, man\nsecond line\n"
    assert caption_of(three[1]) == "qb_peter person, glasses\n"


def test_add_remove_rename_tag(settings, friend, three):
    write_caption(three[0].with_suffix(".txt"), "qb_peter person, Glasses")
    write_caption(three[1].with_suffix(".txt"), "qb_peter person, smile")
    write_caption(three[2].with_suffix(".txt"), "qb_peter person, smile, grin")
    assert add_tag(settings, friend, "glasses") == [three[1].with_suffix(".txt"), three[2].with_suffix(".txt")]
    assert caption_of(three[1]) == "qb_peter person, smile, glasses\n"
    assert rename_tag(settings, friend, "grin", "smile") == [three[2].with_suffix(".txt")]
    assert caption_of(three[2]) == "qb_peter person, smile, glasses\n"
    assert remove_tag(settings, friend, "GLASSES") == [p.with_suffix(".txt") for p in three]
    assert caption_of(three[0]) == "qb_peter person\n"


def test_tag_frequencies(settings, friend, three):
    write_caption(three[0].with_suffix(".txt"), "qb_peter person, glasses, smile")
    write_caption(three[1].with_suffix(".txt"), "qb_peter person, Glasses")
    write_caption(three[2].with_suffix(".txt"), "qb_peter person, smile, smile")
    assert tag_frequencies(settings, friend) == [("qb_peter person", 3), ("glasses", 2), ("smile", 2)]


def test_the_token_cannot_be_removed_or_renamed_away(settings, friend, three):
    with pytest.raises(QbtuiError):
        remove_tag(settings, friend, "qb_peter person")
    with pytest.raises(QbtuiError):
        rename_tag(settings, friend, "qb_peter person", "man")
    with pytest.raises(QbtuiError):
        add_tag(settings, friend, "a, b")


def test_bulk_edit_leaves_a_non_utf8_caption_alone_and_reports_it(settings, friend, three):
    write_caption(three[0].with_suffix(".txt"), "qb_peter person")
    three[1].with_suffix(".txt").write_bytes(b"qb_peter caf\xe9")
    changed = add_tag(settings, friend, "glasses")
    assert changed == [three[0].with_suffix(".txt")]
    assert [(p.code, p.path) for p in changed.skipped] == [("caption-not-utf8", three[1].with_suffix(".txt"))]
    assert three[1].with_suffix(".txt").read_bytes() == b"qb_peter caf\xe9"
    assert caption_of(three[0]) == "qb_peter person, glasses\n"


def test_read_caption_names_a_non_utf8_file(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9")
    with pytest.raises(QbtuiError) as caught:
        read_caption(path)
    assert caught.value.path == path and caught.value.fix


def test_read_caption(tmp_path):
    path = tmp_path / "a.txt"
    assert read_caption(path) == ""
    path.write_bytes("\ufeffqb_peter person".encode("utf-8"))
    assert read_caption(path) == "qb_peter person"
