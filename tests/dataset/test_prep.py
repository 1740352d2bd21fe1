"""Prep: clean 512 JPEGs out, originals kept byte for byte, crash-safe, idempotent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image

import qbtui.dataset.prep as prep_module
import qbtui.dataset.prep_worker as prep_worker
from qbtui.dataset import edits, move_to_originals, prepare_friend, scan_friend
from qbtui.dataset.prep import PREP_CODES
from qbtui.errors import QbtuiError
from qbtui.registry import friend_root, originals_dir

CAPTION = "qb_peter person, man, curly hair\n"


def hashes_under(root: Path) -> dict[str, str]:
    """sha256 -> relative path of every visible file under root."""
    return {
        hashlib.sha256(path.read_bytes()).hexdigest(): str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


def listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def captioned(path: Path, text: str = CAPTION) -> Path:
    path.with_suffix(".txt").write_text(text, encoding="utf-8")
    return path


def solid(colour, size) -> Image.Image:
    return Image.new("RGB", size, colour)


def close(pixel, expected, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def test_prep_makes_clean_jpegs_and_keeps_every_original_byte(settings, friend, folder, photos):
    captioned(photos.jpeg(folder / "wide.jpg", seed=1, size=(800, 600)))
    captioned(photos.jpeg(folder / "clean.jpg", seed=2))
    photos.draw(3).save(folder / "shot.png")
    captioned(folder / "shot.png")
    photos.draw(4).convert("CMYK").save(folder / "print.jpg", quality=90)
    Image.new("I;16", (300, 300), 4000).save(folder / "deep.png")
    photos.draw(5).convert("P").save(folder / "anim.gif")
    root = friend_root(settings, friend)
    before = hashes_under(root)

    report = prepare_friend(settings, friend, workers=2)

    assert {action.source.name for action in report.done} == {"wide.jpg", "shot.png", "print.jpg", "deep.png", "anim.gif"}
    after = hashes_under(root)
    assert set(before) <= set(after), "an original was lost or changed"
    status = scan_friend(settings, friend)
    for image in status.images:
        assert not {p.code for p in image.problems} & PREP_CODES, image
        with Image.open(image.path) as result:
            assert (result.format, result.mode, result.size) == ("JPEG", "RGB", (512, 512))
    assert sorted(p.name for p in status.folder.iterdir()) == [
        "anim.jpg",
        "clean.jpg",
        "clean.txt",
        "deep.jpg",
        "print.jpg",
        "shot.jpg",
        "shot.txt",
        "wide.jpg",
        "wide.txt",
    ]
    assert sorted(p.name for p in originals_dir(settings, friend).iterdir()) == [
        "anim.gif",
        "deep.png",
        "print.jpg",
        "shot.png",
        "wide.jpg",
    ]
    with Image.open(folder / "deep.jpg") as deep:
        assert close(deep.getpixel((256, 256)), (15, 15, 15), 2)


def test_exif_orientation_is_applied_and_portrait_is_letterboxed(settings, friend, folder):
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = solid((200, 30, 30), (800, 600))
    stored.save(folder / "portrait.jpg", quality=95, exif=exif)
    prepare_friend(settings, friend, workers=1)
    with Image.open(folder / "portrait.jpg") as result:
        assert result.size == (512, 512)
        assert close(result.getpixel((256, 20)), (200, 30, 30)), "top should be photo: portrait kept upright"
        assert close(result.getpixel((20, 256)), (255, 255, 255)), "sides should be white letterbox"
        assert result.getexif().get(0x0112) is None


def test_transparency_is_flattened_on_white(settings, friend, folder):
    image = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    image.paste((10, 120, 10, 255), (128, 128, 384, 384))
    image.save(folder / "cutout.png")
    prepare_friend(settings, friend, workers=1)
    with Image.open(folder / "cutout.jpg") as result:
        assert close(result.getpixel((20, 20)), (255, 255, 255))
        assert close(result.getpixel((256, 256)), (10, 120, 10))


def test_embedded_icc_profile_is_converted_to_srgb(settings, friend, folder, photos):
    solid((255, 0, 0), (600, 600)).save(folder / "wide_gamut.jpg", quality=95, icc_profile=photos.swapped_icc())
    prepare_friend(settings, friend, workers=1)
    with Image.open(folder / "wide_gamut.jpg") as result:
        assert close(result.getpixel((256, 256)), (0, 255, 0), 16)
        assert "icc_profile" not in result.info


def test_small_image_is_upscaled_to_fit(settings, friend, folder):
    solid((0, 0, 200), (200, 100)).save(folder / "tiny.jpg", quality=95)
    prepare_friend(settings, friend, workers=1)
    with Image.open(folder / "tiny.jpg") as result:
        assert result.size == (512, 512)
        assert close(result.getpixel((5, 256)), (0, 0, 200))
        assert close(result.getpixel((256, 100)), (255, 255, 255))


def test_heic_is_prepared(settings, friend, folder, photos):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    photos.draw(7, size=(640, 480)).save(folder / "phone.heic", "HEIF")
    captioned(folder / "phone.heic")
    report = prepare_friend(settings, friend, workers=1)
    assert [(a.source.name, a.target.name) for a in report.done] == [("phone.heic", "phone.jpg")]
    assert (originals_dir(settings, friend) / "phone.heic").exists()
    assert (folder / "phone.txt").read_text(encoding="utf-8") == CAPTION


def test_stem_clash_gets_a_new_name_and_a_copy_of_the_caption(settings, friend, folder, photos):
    captioned(photos.jpeg(folder / "twin.jpg", seed=1))
    photos.draw(2).save(folder / "twin.png")
    report = prepare_friend(settings, friend, workers=1)
    assert [(a.source.name, a.target.name, a.caption_to) for a in report.done] == [("twin.png", "twin-2.jpg", None)]
    assert (folder / "twin-2.txt").read_text(encoding="utf-8") == CAPTION
    assert (folder / "twin.txt").read_text(encoding="utf-8") == CAPTION
    found = {image.path.name: {p.code for p in image.problems} for image in scan_friend(settings, friend).images}
    assert found == {"twin.jpg": set(), "twin-2.jpg": set()}


def test_undo_of_a_split_prep_removes_the_copied_caption(settings, friend, folder, photos):
    captioned(photos.jpeg(folder / "twin.jpg", seed=1))
    photos.draw(2).save(folder / "twin.png")
    edit = edits.prepare(settings, friend, workers=1)
    edits.undo(edit.undo)
    assert sorted(path.name for path in folder.iterdir()) == ["twin.jpg", "twin.png", "twin.txt"]


def test_renamed_photo_takes_its_caption(settings, friend, folder, photos):
    captioned(photos.jpeg(folder / "pic.jpg", seed=1))
    photos.draw(2).save(folder / "Pic.png")
    (folder / "Pic.txt").write_text("qb_peter person, smiling\n", encoding="utf-8")
    report = prepare_friend(settings, friend, workers=1)
    assert [(a.target.name, a.caption_to.name) for a in report.done] == [("Pic-2.jpg", "Pic-2.txt")]
    assert (folder / "Pic-2.txt").read_text(encoding="utf-8") == "qb_peter person, smiling\n"
    assert not (folder / "Pic.txt").exists()


def test_original_name_clash_in_originals_keeps_both(settings, friend, folder, photos):
    photos.jpeg(folder / "wide.jpg", seed=1, size=(800, 600))
    originals = originals_dir(settings, friend)
    originals.mkdir()
    (originals / "wide.jpg").write_bytes(b"an older original")
    prepare_friend(settings, friend, workers=1)
    assert (originals / "wide.jpg").read_bytes() == b"an older original"
    with Image.open(originals / "wide-2.jpg") as kept:
        assert kept.size == (800, 600)


def test_prep_is_idempotent(settings, friend, folder, photos):
    photos.jpeg(folder / "wide.jpg", seed=1, size=(900, 600))
    photos.draw(2).save(folder / "b.png")
    first = prepare_friend(settings, friend, workers=1)
    assert len(first.done) == 2
    root = friend_root(settings, friend)
    snapshot = listing(root)
    second = prepare_friend(settings, friend, workers=1)
    assert second.done == () and not second.changed and second.unchanged == 2
    assert listing(root) == snapshot


def test_dry_run_changes_nothing(settings, friend, folder, photos):
    photos.jpeg(folder / "wide.jpg", seed=1, size=(900, 600))
    root = friend_root(settings, friend)
    snapshot = listing(root)
    report = prepare_friend(settings, friend, dry_run=True)
    assert report.dry_run and [a.source.name for a in report.done] == ["wide.jpg"]
    assert listing(root) == snapshot


def test_bad_file_is_skipped_and_the_rest_go_on(settings, friend, folder, photos):
    (folder / "junk.jpg").write_bytes(b"not an image")
    (folder / "empty.png").write_bytes(b"")
    photos.jpeg(folder / "wide.jpg", seed=1, size=(900, 600))
    report = prepare_friend(settings, friend, workers=1)
    assert {(p.code, p.path.name) for p in report.skipped} == {("unreadable", "junk.jpg"), ("zero-bytes", "empty.png")}
    assert [a.source.name for a in report.done] == ["wide.jpg"]
    assert (folder / "junk.jpg").read_bytes() == b"not an image"


def test_decode_failure_during_render_is_reported(settings, friend, folder, photos, monkeypatch):
    photos.jpeg(folder / "wide.jpg", seed=1, size=(900, 600))
    photos.jpeg(folder / "other.jpg", seed=2, size=(900, 600))

    def broken(path, *rest):
        if path.name == "other.jpg":
            raise OSError("broken data stream")
        return real(path, *rest)

    real = prep_worker.render_prepared_jpeg
    monkeypatch.setattr(prep_worker, "render_prepared_jpeg", broken)
    report = prepare_friend(settings, friend, workers=1)
    assert [a.source.name for a in report.done] == ["wide.jpg"]
    assert [(p.code, p.path.name) for p in report.skipped] == [("unreadable", "other.jpg")]
    assert (folder / "other.jpg").exists()


def test_progress_is_reported_per_photo(settings, friend, folder, photos):
    for index in range(3):
        photos.jpeg(folder / f"w{index}.jpg", seed=index, size=(700, 500))
    seen = []
    prepare_friend(settings, friend, workers=2, progress=lambda done, total, path: seen.append((done, total, path.name)))
    assert [(done, total) for done, total, _name in seen] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(name for _done, _total, name in seen) == ["w0.jpg", "w1.jpg", "w2.jpg"]


def test_missing_folder_is_a_clear_error(settings, friend):
    with pytest.raises(QbtuiError) as caught:
        prepare_friend(settings, friend)
    assert "30_peter" in str(caught.value) and caught.value.fix


class Killed(BaseException):
    """Stands in for SIGKILL at one step of the crash-safe sequence."""


def test_crash_after_original_moved_is_finished_by_next_run(settings, friend, folder, photos, monkeypatch):
    captioned(photos.jpeg(folder / "wide.jpg", seed=1, size=(900, 600)))
    before = hashes_under(friend_root(settings, friend))

    def killed(record):
        raise Killed

    monkeypatch.setattr(prep_module, "_finish", killed)
    with pytest.raises(Killed):
        prepare_friend(settings, friend, workers=1)
    assert not (folder / "wide.jpg").exists() and (originals_dir(settings, friend) / "wide.jpg").exists()
    monkeypatch.undo()
    report = prepare_friend(settings, friend, workers=1)
    assert report.recovered == 1 and report.done == ()
    assert set(before) <= set(hashes_under(friend_root(settings, friend)))
    with Image.open(folder / "wide.jpg") as result:
        assert result.size == (512, 512)
    assert sorted(p.name for p in folder.iterdir()) == ["wide.jpg", "wide.txt"]


def test_crash_before_original_moved_leaves_it_untouched(settings, friend, folder, photos, monkeypatch):
    photos.jpeg(folder / "wide.jpg", seed=1, size=(900, 600))
    original = (folder / "wide.jpg").read_bytes()
    real_replace = os.replace

    def killed(source, target):
        if Path(target).parent.name == "originals":
            raise Killed
        return real_replace(source, target)

    monkeypatch.setattr(prep_module.os, "replace", killed)
    with pytest.raises(Killed):
        prepare_friend(settings, friend, workers=1)
    monkeypatch.undo()
    assert (folder / "wide.jpg").read_bytes() == original
    report = prepare_friend(settings, friend, workers=1)
    assert report.recovered == 0 and [a.source.name for a in report.done] == ["wide.jpg"]
    assert sorted(p.name for p in folder.iterdir()) == ["wide.jpg"]


def test_move_to_originals_takes_the_caption(settings, friend, folder, photos):
    captioned(photos.jpeg(folder / "dup.jpg", seed=1))
    kept = move_to_originals(settings, friend, folder / "dup.jpg")
    assert kept == originals_dir(settings, friend) / "dup.jpg"
    assert (kept.parent / "dup.txt").read_text(encoding="utf-8") == CAPTION
    assert list(folder.iterdir()) == []


def test_move_to_originals_refuses_files_elsewhere(settings, friend, tmp_path):
    stray = tmp_path / "elsewhere.jpg"
    stray.write_bytes(b"x")
    with pytest.raises(QbtuiError):
        move_to_originals(settings, friend, stray)


def test_a_dying_worker_pool_is_a_clear_error_and_keeps_finished_photos(settings, friend, folder, photos, monkeypatch):
    from qbtui.dataset.prep_pool import WorkerDied

    photos.jpeg(folder / "a.jpg", seed=1, size=(700, 500))
    photos.jpeg(folder / "b.jpg", seed=2, size=(700, 500))
    real_render_all = prep_module._render_all

    def dies_after_one(actions, workers):
        rendered = real_render_all(actions, 1)
        yield next(rendered)
        raise WorkerDied("exit code -9")

    monkeypatch.setattr(prep_module, "_render_all", dies_after_one)
    with pytest.raises(QbtuiError) as caught:
        prepare_friend(settings, friend)
    assert "--workers 1" in caught.value.fix
    assert (originals_dir(settings, friend) / "a.jpg").exists() and (folder / "b.jpg").exists()
    assert not (friend_root(settings, friend) / prep_module.LOCK_NAME).exists()


def test_the_lock_is_released_and_removed_whatever_fails(settings, friend, folder, photos, monkeypatch):
    photos.jpeg(folder / "a.jpg", seed=1, size=(700, 500))

    def fails(actions, workers):
        raise ValueError("bad value(s) in fds_to_keep")
        yield

    monkeypatch.setattr(prep_module, "_render_all", fails)
    with pytest.raises(ValueError):
        prepare_friend(settings, friend)
    assert not (friend_root(settings, friend) / prep_module.LOCK_NAME).exists()
    monkeypatch.undo()
    assert [action.source.name for action in prepare_friend(settings, friend).done] == ["a.jpg"]


def test_only_one_photo_is_prepared_when_asked(settings, friend, folder, photos):
    photos.jpeg(folder / "a.jpg", seed=1, size=(700, 500))
    photos.jpeg(folder / "b.jpg", seed=2, size=(700, 500))
    report = prepare_friend(settings, friend, only=folder / "a.jpg")
    assert [action.source.name for action in report.done] == ["a.jpg"]
    assert len(list(originals_dir(settings, friend).iterdir())) == 1
