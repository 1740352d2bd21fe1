"""Issue 10: hostile or unlucky folders never make prep, captions or check touch files outside
a friend's folder, and every odd entry is a problem with a code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from qbtui.dataset import init_captions, prepare_friend, scan_friend, token_first
from qbtui.dataset.prep import JOURNAL_PREFIX
from qbtui.errors import QbtuiError
from qbtui.registry import friend_root, originals_dir

from .conftest import save_jpeg
from .test_prep import hashes_under


def codes(status) -> set[str]:
    return {problem.code for problem in status.all_problems()}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder of the user's, outside the datasets folder, with a file that must survive."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "victim.txt").write_text("precious\n")
    return folder


# ---------------------------------------------------------------- item 1: journals


def write_journal(folder: Path, record: object, token: str = "aaaa") -> Path:
    journal = folder / f"{JOURNAL_PREFIX}{token}.json"
    journal.write_text(json.dumps(record))
    return journal


def test_a_journal_naming_a_file_outside_deletes_nothing(settings, friend, folder, clean_dataset, outside):
    clean_dataset()
    record = {
        "source": "/x",
        "temp": str(outside / "victim.txt"),
        "target": str(outside / "t.jpg"),
        "kept": "/nonexistent",
        "caption_from": None,
        "caption_to": None,
    }
    journal = write_journal(folder, record)
    report = prepare_friend(settings, friend, workers=1)
    assert (outside / "victim.txt").read_text() == "precious\n"
    assert journal.exists(), "a foreign journal is left alone"
    (problem,) = [p for p in report.skipped if p.code == "bad-journal"]
    assert str(journal) in problem.message and "rm" in problem.fix and problem.severity == "warning"


def test_a_journal_cannot_move_files_in(settings, friend, folder, clean_dataset, outside):
    clean_dataset()
    (outside / "kept.txt").write_text("keep me\n")
    record = {
        "source": "/x",
        "temp": f"{JOURNAL_PREFIX}aaaa.jpg.qbtui-tmp",
        "target": "t.jpg",
        "kept": str(outside / "kept.txt"),
        "caption_from": str(outside / "victim.txt"),
        "caption_to": str(folder / "stolen.txt"),
    }
    write_journal(folder, record)
    report = prepare_friend(settings, friend, workers=1)
    assert (outside / "victim.txt").read_text() == "precious\n" and not (folder / "stolen.txt").exists()
    assert "bad-journal" in {p.code for p in report.skipped}


@pytest.mark.parametrize(
    "record",
    [{"source": "a"}, [], "text", {"source": 1, "temp": 2, "target": 3, "kept": 4, "caption_from": 5, "caption_to": 6}],
)
def test_a_malformed_journal_is_reported_not_a_keyerror(settings, friend, folder, clean_dataset, record):
    clean_dataset()
    journal = write_journal(folder, record)
    report = prepare_friend(settings, friend, workers=1)
    assert journal.exists() and "bad-journal" in {p.code for p in report.skipped}


def test_a_journal_through_a_linked_originals_folder_is_refused(settings, friend, folder, clean_dataset, outside):
    clean_dataset()
    (outside / "a.jpg").write_text("not mine\n")
    os.symlink(outside, originals_dir(settings, friend))
    record = {
        "source": "a.jpg",
        "temp": f"{JOURNAL_PREFIX}aaaa.jpg.qbtui-tmp",
        "target": "a.jpg",
        "kept": "originals/a.jpg",
        "caption_from": "victim.txt",
        "caption_to": "moved.txt",
    }
    (folder / "victim.txt").write_text("caption\n")
    write_journal(folder, record)
    from qbtui.dataset.prep import recover_interrupted

    finished, problems = recover_interrupted(folder, friend.id)
    assert finished == 0 and [p.code for p in problems] == ["bad-journal"]
    assert (folder / "victim.txt").exists() and not (folder / "moved.txt").exists()


def test_a_journal_of_the_old_absolute_form_inside_the_folder_is_still_finished(settings, friend, folder):
    kept = originals_dir(settings, friend) / "wide.jpg"
    kept.parent.mkdir(parents=True)
    save_jpeg(kept, seed=1, size=(900, 600))
    temp = folder / f"{JOURNAL_PREFIX}bbbb.jpg.qbtui-tmp"
    save_jpeg(temp, seed=2)
    record = {
        "source": str(folder / "wide.jpg"),
        "temp": str(temp),
        "target": str(folder / "wide.jpg"),
        "kept": str(kept),
        "caption_from": None,
        "caption_to": None,
    }
    write_journal(folder, record, token="bbbb")
    from qbtui.dataset.prep import recover_interrupted

    assert recover_interrupted(folder, friend.id) == (1, [])
    assert (folder / "wide.jpg").exists() and not temp.exists()


# ---------------------------------------------------------------- item 2: linked folders and photos


def test_prep_refuses_a_training_folder_linked_from_elsewhere(settings, friend, outside):
    for index in range(3):
        save_jpeg(outside / f"photo{index}.png", seed=index, size=(900, 600))
    friend_root(settings, friend).mkdir(parents=True)
    os.symlink(outside, friend_root(settings, friend) / "30_peter")
    before = snapshot(outside)
    status = scan_friend(settings, friend)
    assert "folder-outside" in codes(status) and not status.ready
    for change in (lambda: prepare_friend(settings, friend, workers=1), lambda: init_captions(settings, friend)):
        with pytest.raises(QbtuiError) as caught:
            change()
        assert "30_peter" in str(caught.value) and "outside" in caught.value.message and "cp -rL" in caught.value.fix
    with pytest.raises(QbtuiError):
        prepare_friend(settings, friend, dry_run=True)
    assert snapshot(outside) == before and sorted(os.listdir(outside)) == sorted(before)
    assert not originals_dir(settings, friend).exists()


def test_a_training_folder_linked_to_another_friends_folder_is_refused(settings, friend, clean_dataset, tmp_path):
    other = settings.datasets_dir / "maria" / "30_maria"
    other.mkdir(parents=True)
    save_jpeg(other / "m.png", seed=1, size=(900, 600))
    os.rename(friend_root(settings, friend) / "30_peter", tmp_path / "unused")
    os.symlink(other, friend_root(settings, friend) / "30_peter")
    with pytest.raises(QbtuiError, match="outside"):
        prepare_friend(settings, friend, workers=1)
    assert (other / "m.png").exists()


def test_a_photo_linked_from_outside_is_a_problem_and_left_alone(settings, friend, folder, clean_dataset, outside):
    clean_dataset()
    save_jpeg(outside / "big.png", seed=7, size=(900, 600))
    os.symlink(outside / "big.png", folder / "linked.png")
    before = snapshot(outside)
    status = scan_friend(settings, friend)
    (problem,) = [p for p in status.all_problems() if p.code == "link-outside"]
    assert problem.path == folder / "linked.png" and "cp -L" in problem.fix
    prepare_friend(settings, friend, workers=1)
    assert (folder / "linked.png").is_symlink() and snapshot(outside) == before


# ---------------------------------------------------------------- items 9, 10: odd entries


def test_a_symlink_loop_is_a_problem_everywhere(settings, friend, folder, clean_dataset):
    clean_dataset()
    os.symlink("l2.jpg", folder / "l1.jpg")
    os.symlink("l1.jpg", folder / "l2.jpg")
    os.symlink("missing.jpg", folder / "dangling.jpg")
    status = scan_friend(settings, friend)
    broken = {p.path.name: p for p in status.all_problems() if p.code == "broken-link"}
    assert set(broken) == {"l1.jpg", "l2.jpg", "dangling.jpg"} and not status.ready
    assert "symbolic links" in broken["l1.jpg"].message
    report = prepare_friend(settings, friend, workers=1)
    assert report.done == () and (folder / "l1.jpg").is_symlink()
    assert init_captions(settings, friend) == []


def test_a_folder_named_like_a_photo_is_a_problem(settings, friend, folder, clean_dataset):
    clean_dataset()
    (folder / "x.jpg").mkdir()
    status = scan_friend(settings, friend)
    (problem,) = [p for p in status.all_problems() if p.code == "not-a-file"]
    assert problem.path == folder / "x.jpg" and problem.severity == "error" and not status.ready


def test_a_training_folder_on_a_read_only_mount_says_so_instead_of_chmod(settings, friend, folder, clean_dataset, monkeypatch):
    from qbtui import mounts

    photos = clean_dataset()
    photos[0].with_suffix(".txt").write_text("man, no token\n")
    folder.chmod(0o555)
    monkeypatch.setattr(mounts, "read_only_mount", lambda path: True)
    try:
        with pytest.raises(QbtuiError) as caught:
            token_first(settings, friend)
    finally:
        folder.chmod(0o755)
    assert "mounted read-only, which chmod cannot change: remount it read-write" in caught.value.fix
    assert "chmod u+w" not in caught.value.fix


def test_a_read_only_training_folder_is_a_clear_error(settings, friend, folder, clean_dataset):
    photos = clean_dataset()
    save_jpeg(folder / "wide.png", seed=99, size=(900, 600))
    photos[0].with_suffix(".txt").write_text("man, no token\n")
    (folder / "wide.txt").unlink(missing_ok=True)
    before = hashes_under(folder)
    folder.chmod(0o555)
    try:
        for change in (
            lambda: prepare_friend(settings, friend, workers=1),
            lambda: init_captions(settings, friend),
            lambda: token_first(settings, friend),
        ):
            with pytest.raises(QbtuiError) as caught:
                change()
            assert "read-only" in caught.value.message and "chmod u+w" in caught.value.fix
    finally:
        folder.chmod(0o755)
    assert hashes_under(folder) == before


# ---------------------------------------------------------------- item 15: a decompression bomb


def write_huge_png(path: Path, side: int = 13000) -> None:
    """A valid greyscale PNG of side x side pixels, streamed (a few hundred KB on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    packer = zlib.compressobj(9)
    row = bytes(side + 1)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_a_13000_pixel_png_is_a_bomb_problem_read_from_its_header(settings, friend, folder, clean_dataset, tmp_path):
    clean_dataset()
    write_huge_png(folder / "huge.png")
    (folder / "huge.txt").write_text("qb_peter person\n")
    registry = tmp_path / "work" / "registry.toml"
    registry.write_text(
        '[settings]\ndatasets_dir = "datasets"\nlora_dir = "loras"\nlogs_dir = "logs"\nbase_model = "m"\npreset = "s"\n'
        '[presets.s]\n[friends.peter]\nname = "Peter"\ntoken = "qb_peter"\n'
    )
    probe = (
        "import resource, sys\nfrom qbtui.cli import main\ncode = main(['--registry', sys.argv[1], 'check', '--json'])\n"
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(registry)], check=False, capture_output=True, text=True, timeout=600
    )
    assert "DecompressionBomb" not in result.stderr and "Traceback" not in result.stderr
    assert '"decompression-bomb"' in result.stdout
    max_rss_kb = int(result.stdout.rsplit("MAXRSS", 1)[1])
    # Decoding the 13000x13000 photo costs 2 GB (the figure); the face model alone,
    # when check loads it in-process, is about 400 MB: the bound tells the two apart.
    assert max_rss_kb < 1_000_000, f"check used {max_rss_kb} KB"
    report = prepare_friend(settings, friend, workers=1)
    assert "decompression-bomb" in {p.code for p in report.skipped} and (folder / "huge.png").exists()
