"""Prep analyses for boxes only: no descriptor where a photo shows one face (issue 27).

The descriptor is the slowest step of the analysis and prep frames a single face by its
box alone; the checks, which compare faces, still get descriptors from the same cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PIL import Image

from qbtui.dataset.face_checks import scan_faces
from qbtui.dataset.prep import prepare_friend
from qbtui.dataset.scan import scan_existing
from qbtui.faces.analysis import CACHE_VERSION, FaceCache, analyse_folder, analyse_photo, cache_file_for
from qbtui.faces.model import FaceModel
from tests.faces.conftest import group_photo, put_photo

ONE_FACE_EACH = ("obama.jpg", "obama3.jpg", "biden.jpg", "32bit.png")


def cached_descriptor_lengths(folder: Path) -> dict[str, list[int]]:
    saved = json.loads(cache_file_for(folder).read_text())
    return {name: [len(face["descriptor"]) for face in entry["faces"]["faces"]] for name, entry in saved["photos"].items()}


def test_a_cold_face_prep_of_one_face_photos_computes_no_descriptor(settings, friend, friend_folder, face_photos):
    for name in ONE_FACE_EACH:
        put_photo(friend_folder, face_photos, name)
    report = prepare_friend(settings, friend, dry_run=True, workers=2)
    assert all(action.framing == "face" for action in report.done)
    assert cached_descriptor_lengths(friend_folder) == {name: [0] for name in ONE_FACE_EACH}


def test_the_checks_after_a_box_only_prep_describe_every_face(settings, friend, friend_folder, face_photos):
    for name in ONE_FACE_EACH:
        put_photo(friend_folder, face_photos, name)
    prepare_friend(settings, friend, dry_run=True, workers=1)
    checked = scan_faces(scan_existing(settings, friend), workers=1)
    assert all(image.face is not None and len(image.face.descriptor) == 128 for image in checked.images)
    assert checked.faces is not None and checked.faces.centroid is not None
    assert cached_descriptor_lengths(friend_folder) == {name: [128] for name in ONE_FACE_EACH}


def test_a_folder_with_a_group_photo_is_described_for_prep(settings, friend, friend_folder, face_photos):
    for name in ONE_FACE_EACH:
        put_photo(friend_folder, face_photos, name)
    group_photo(face_photos).save(friend_folder / "group.jpg", quality=92)
    prepare_friend(settings, friend, dry_run=True, workers=1)
    lengths = cached_descriptor_lengths(friend_folder)
    assert lengths == {**{name: [128] for name in ONE_FACE_EACH}, "group.jpg": [128, 128]}


def test_a_photo_of_several_faces_is_described_even_when_only_boxes_are_asked(tmp_path: Path, face_photos, face_model: FaceModel):
    group_photo(face_photos).save(tmp_path / "group.jpg", quality=92)
    faces = analyse_photo(tmp_path / "group.jpg", face_model, describe=False).faces
    assert len(faces) == 2 and all(face.described for face in faces)
    [alone] = analyse_photo(face_photos / "obama.jpg", face_model, describe=False).faces
    assert not alone.described and alone.box == analyse_photo(face_photos / "obama.jpg", face_model).faces[0].box


def test_a_box_only_cache_entry_never_stands_in_for_a_described_one(photo_folder: Path):
    names = ["obama.jpg", "biden.jpg"]
    boxes = analyse_folder(photo_folder, names, workers=1, describe=False)
    assert not any(faces.described for faces in boxes.values())
    assert json.loads(cache_file_for(photo_folder).read_text())["version"] == CACHE_VERSION
    cache = FaceCache(cache_file_for(photo_folder))
    cache.load()
    key = os.stat(photo_folder / "obama.jpg")
    assert cache.get("obama.jpg", (key.st_size, key.st_mtime_ns)) is None
    assert cache.get("obama.jpg", (key.st_size, key.st_mtime_ns), describe=False) == boxes["obama.jpg"]
    described = analyse_folder(photo_folder, names, workers=1)
    assert all(faces.described for faces in described.values())
    assert [faces.faces[0].box for faces in described.values()] == [faces.faces[0].box for faces in boxes.values()]


def test_a_cache_file_of_another_version_is_analysed_again(photo_folder: Path):
    analyse_folder(photo_folder, ["obama.jpg"], workers=1, describe=False)
    path = cache_file_for(photo_folder)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "version": CACHE_VERSION + 1}))
    cache = FaceCache(path)
    cache.load()
    assert cache.entries == {}


def test_a_prepared_group_photo_left_as_it_is_does_not_make_prep_describe(settings, friend, friend_folder, face_photos):
    for name in ONE_FACE_EACH:
        put_photo(friend_folder, face_photos, name)
    group = group_photo(face_photos)
    prepared = Image.new("RGB", (512, 512), (255, 255, 255))
    prepared.paste(group.resize((512, 288)), (0, 112))
    prepared.save(friend_folder / "group.jpg", quality=95)
    report = prepare_friend(settings, friend, dry_run=True, workers=1)
    assert {action.source.name for action in report.done} == set(ONE_FACE_EACH)
    assert cached_descriptor_lengths(friend_folder) == {**{name: [0] for name in ONE_FACE_EACH}, "group.jpg": [128, 128]}


def test_a_box_only_analysis_is_completed_without_detecting_again(photo_folder: Path, monkeypatch):
    names = ["obama.jpg", "biden.jpg", "32bit.png"]
    analyse_folder(photo_folder, names, workers=2, describe=False)
    completed = analyse_folder(photo_folder, names, workers=2)
    cache_file_for(photo_folder).unlink()
    fresh = analyse_folder(photo_folder, names, workers=1)
    assert completed == fresh
    cache_file_for(photo_folder).unlink()
    analyse_folder(photo_folder, names, workers=1, describe=False)

    def refuse(*args, **kwargs):
        raise AssertionError("detected again although the boxes were cached")

    monkeypatch.setattr(FaceModel, "detect", refuse)
    assert analyse_folder(photo_folder, names, workers=1) == fresh
