"""Scan: every problem code from a corpus of bad inputs, exact code sets, and the cache."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from PIL import Image

from qbtui.dataset import ScanCache, scan_friend
from qbtui.dataset.problems import CATALOGUE

CAPTION = "qb_peter person, man, curly hair\n"


def codes_by_file(status) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for image in status.images:
        found[image.path.name] = {problem.code for problem in image.problems}
    return found


def loose_codes(status) -> set[tuple[str, str]]:
    return {(problem.code, problem.path.name) for problem in status.problems}


def captioned(path: Path, text: str = CAPTION) -> Path:
    path.with_suffix(".txt").write_text(text, encoding="utf-8")
    return path


def build_bad_corpus(folder: Path, photos) -> None:
    draw_photo, save_jpeg = photos.draw, photos.jpeg
    captioned(save_jpeg(folder / "clean.jpg", seed=1))
    captioned(save_jpeg(folder / "wide.jpg", seed=2, size=(800, 600)))
    captioned(save_jpeg(folder / "tiny.jpg", seed=3, size=(300, 200)))
    captioned(save_jpeg(folder / "rotated.jpg", seed=4, orientation=6))
    draw_photo(5).save(folder / "plain.png")
    captioned(folder / "plain.png")
    alpha = draw_photo(6).convert("RGBA")
    alpha.putpixel((0, 0), (0, 0, 0, 0))
    alpha.save(folder / "alpha.png")
    captioned(folder / "alpha.png")
    draw_photo(7).convert("CMYK").save(folder / "cmyk.jpg", quality=90)
    captioned(folder / "cmyk.jpg")
    draw_photo(8).convert("P").save(folder / "palette.gif")
    captioned(folder / "palette.gif")
    Image.new("I;16", (512, 512), 4000).save(folder / "deep.png")
    captioned(folder / "deep.png")
    save_jpeg(folder / "nocap.jpg", seed=9)
    captioned(save_jpeg(folder / "empty.jpg", seed=10), "  \n")
    captioned(save_jpeg(folder / "notoken.jpg", seed=11), "man, curly hair\n")
    captioned(save_jpeg(folder / "late.jpg", seed=12), "man, qb_peter person\n")
    save_jpeg(folder / "latin1.jpg", seed=13)
    (folder / "latin1.txt").write_bytes("qb_peter person, caf\xe9".encode("latin-1"))
    data = io.BytesIO()
    draw_photo(14).save(data, "JPEG", quality=90)
    (folder / "cut.jpg").write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    captioned(folder / "cut.jpg")
    draw_photo(17).save(folder / "web.webp", quality=90)
    captioned(folder / "web.webp")
    png = io.BytesIO()
    draw_photo(18).save(png, "PNG")
    (folder / "halfpng.png").write_bytes(png.getvalue()[:-40])
    captioned(folder / "halfpng.png")
    (folder / "junk.jpg").write_bytes(b"this is not an image at all")
    captioned(folder / "junk.jpg")
    (folder / "empty0.jpg").write_bytes(b"")
    captioned(folder / "empty0.jpg")
    captioned(save_jpeg(folder / "twin.jpg", seed=15))
    draw_photo(16).save(folder / "twin.png")
    shutil.copy(folder / "clean.jpg", folder / "clean_copy.jpg")
    captioned(folder / "clean_copy.jpg")
    (folder / "lonely.txt").write_text(CAPTION, encoding="utf-8")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / ".DS_Store").write_bytes(b"hidden")


EXPECTED = {
    "clean.jpg": set(),
    "wide.jpg": {"not-512"},
    "tiny.jpg": {"not-512", "too-small"},
    "rotated.jpg": {"exif-rotation"},
    "plain.png": {"not-jpeg"},
    "alpha.png": {"not-jpeg", "transparency"},
    "cmyk.jpg": {"bad-mode"},
    "palette.gif": {"not-jpeg", "bad-mode"},
    "deep.png": {"not-jpeg", "bad-mode"},
    "nocap.jpg": {"no-caption"},
    "empty.jpg": {"empty-caption"},
    "notoken.jpg": {"token-missing"},
    "late.jpg": {"token-not-first"},
    "latin1.jpg": {"caption-not-utf8"},
    "cut.jpg": {"unreadable"},
    "web.webp": {"not-jpeg"},
    "halfpng.png": {"unreadable"},
    "junk.jpg": {"unreadable"},
    "empty0.jpg": {"zero-bytes"},
    "twin.jpg": {"stem-clash"},
    "twin.png": {"stem-clash", "not-jpeg"},
    "clean_copy.jpg": {"near-duplicate"},
}


def test_bad_corpus_gives_exact_codes(settings, friend, folder, photos):
    build_bad_corpus(folder, photos)
    status = scan_friend(settings, friend)
    assert codes_by_file(status) == EXPECTED
    assert loose_codes(status) == {
        ("orphan-caption", "lonely.txt"),
        ("unsupported-type", "notes.pdf"),
    }
    assert not status.ready
    assert status.image_count == len(EXPECTED)


def test_every_problem_names_its_file_and_a_fix(settings, friend, folder, photos):
    build_bad_corpus(folder, photos)
    for problem in scan_friend(settings, friend).all_problems():
        assert problem.path is not None and problem.path.name in problem.message
        assert problem.fix and problem.severity in {"error", "warning"}
        assert problem.action == CATALOGUE[problem.code].action


def test_heic_is_read_and_flagged_not_jpeg(settings, friend, folder, photos):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    photos.draw(20).save(folder / "phone.heic", "HEIF")
    captioned(folder / "phone.heic")
    image = scan_friend(settings, friend).images[0]
    assert (image.format, image.width, image.height) == ("HEIF", 512, 512)
    assert {problem.code for problem in image.problems} == {"not-jpeg"}


def test_clean_dataset_is_ready(settings, friend, clean_dataset):
    clean_dataset(20)
    status = scan_friend(settings, friend)
    assert status.ready and status.problem_count == 0
    assert (status.image_count, status.caption_count) == (20, 20)


def test_too_few_images_blocks_training(settings, friend, clean_dataset):
    clean_dataset(19)
    status = scan_friend(settings, friend)
    assert [(p.code, p.severity) for p in status.problems] == [("too-few-images", "error")]
    assert not status.ready


def test_too_many_images_is_a_warning(settings, friend, clean_dataset):
    clean_dataset(51)
    status = scan_friend(settings, friend)
    assert [problem.code for problem in status.problems] == ["too-many-images"]
    assert status.ready


def test_folder_missing(settings, friend):
    status = scan_friend(settings, friend)
    assert [(p.code, p.action) for p in status.all_problems()] == [("folder-missing", "add-folder")]
    assert status.images == () and not status.ready


def test_repeats_mismatch_scans_the_existing_folder(settings, friend, clean_dataset, folder):
    clean_dataset(20)
    folder.rename(folder.with_name("20_peter"))
    status = scan_friend(settings, friend)
    assert [p.code for p in status.problems] == ["repeats-mismatch"]
    assert status.folder.name == "20_peter" and status.image_count == 20


def test_second_repeats_folder_is_a_mismatch(settings, friend, clean_dataset, folder):
    clean_dataset(20)
    (folder.parent / "10_peter").mkdir()
    status = scan_friend(settings, friend)
    assert [(p.code, p.path.name) for p in status.problems] == [("repeats-mismatch", "10_peter")]


def test_token_is_matched_as_a_whole_word_ignoring_case(settings, friend, folder, photos):
    captioned(photos.jpeg(folder / "a.jpg", seed=1), "QB_Peter person, man\n")
    captioned(photos.jpeg(folder / "b.jpg", seed=2), "qb_peterson person, man\n")
    found = codes_by_file(scan_friend(settings, friend))
    assert found == {"a.jpg": set(), "b.jpg": {"token-missing"}}


def test_cache_reuses_unchanged_and_rereads_changed_files(settings, friend, clean_dataset, monkeypatch, photos):
    files = clean_dataset(20)
    cache = ScanCache()
    first = scan_friend(settings, friend, cache)
    assert scan_friend(settings, friend, cache) is first

    import qbtui.dataset.scan as scan_module

    reads: list[Path] = []
    real_read = scan_module.read_image_info
    monkeypatch.setattr(scan_module, "read_image_info", lambda path, size=None: reads.append(path) or real_read(path, size))
    files[0].with_suffix(".txt").write_text("man\n", encoding="utf-8")
    photos.jpeg(files[1], seed=99, size=(600, 400))
    status = scan_friend(settings, friend, cache)
    assert reads == [files[1]]
    found = codes_by_file(status)
    assert found[files[0].name] == {"token-missing"}
    assert found[files[1].name] == {"not-512"}


def test_cache_sees_friend_token_change(settings, friend, clean_dataset):
    clean_dataset(20)
    cache = ScanCache()
    assert scan_friend(settings, friend, cache).ready
    renamed = replace(friend, token="qb_pete")
    assert {p.code for p in scan_friend(settings, renamed, cache).all_problems()} == {"token-missing"}


def test_import_is_light():
    code = "import sys, qbtui.dataset; bad = [m for m in ('PIL', 'watchdog', 'torch', 'textual') if m in sys.modules]; print(bad)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_fingerprints_can_be_deferred_to_a_later_scan(settings, friend, clean_dataset, folder):
    clean_dataset(20)
    shutil.copy(folder / "img_000.jpg", folder / "img_999.jpg")
    shutil.copy(folder / "img_000.txt", folder / "img_999.txt")
    cache = ScanCache()
    quick = scan_friend(settings, friend, cache, fingerprints=False)
    assert quick.problem_count == 0
    full = scan_friend(settings, friend, cache)
    assert [(p.code, p.path.name) for p in full.all_problems()] == [("near-duplicate", "img_999.jpg")]
    again = scan_friend(settings, friend, cache, fingerprints=False)
    assert [p.code for p in again.all_problems()] == ["near-duplicate"]


def test_phone_mpo_jpeg_counts_as_jpeg(settings, friend, folder, photos):
    first, second = photos.draw(1), photos.draw(2)
    first.save(folder / "portrait.jpg", "MPO", save_all=True, append_images=[second])
    captioned(folder / "portrait.jpg")
    image = scan_friend(settings, friend).images[0]
    assert image.format == "MPO" and image.problems == ()


def test_decompression_bomb_is_its_own_problem_not_a_crash(settings, friend, folder, photos, monkeypatch):
    photos.jpeg(folder / "huge.jpg", seed=1)
    captioned(folder / "huge.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert codes_by_file(scan_friend(settings, friend)) == {"huge.jpg": {"decompression-bomb"}}
