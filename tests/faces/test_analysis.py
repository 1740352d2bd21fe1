"""The folder analysis: parallel workers, a cache by size and mtime, errors reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qbtui.faces import analysis
from qbtui.faces.analysis import FaceCache, analyse_folder, cache_file_for
from qbtui.faces.model import FaceModelMissing


def test_the_friend_folder_is_never_written(photo_folder: Path) -> None:
    before = sorted(os.listdir(photo_folder.parent))
    analyse_folder(photo_folder, sorted(os.listdir(photo_folder)), workers=1)
    assert sorted(os.listdir(photo_folder.parent)) == before and cache_file_for(photo_folder).is_file()


def test_two_workers_give_the_in_process_answers_and_a_second_run_comes_from_the_cache(
    photo_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = sorted(os.listdir(photo_folder))
    parallel = analyse_folder(photo_folder, names, workers=2)
    assert cache_file_for(photo_folder).is_file()
    cache_file_for(photo_folder).unlink()
    serial = analyse_folder(photo_folder, names, workers=1)
    assert list(parallel) == names
    for name in names:
        assert [face.box for face in parallel[name].faces] == [face.box for face in serial[name].faces]
        assert len(parallel[name].faces) == 1 and parallel[name].error is None

    def refuse(*args, **kwargs):
        raise AssertionError("analysed again although cached")

    monkeypatch.setattr(analysis, "_analyse", refuse)
    assert analyse_folder(photo_folder, names) == serial


def test_a_changed_file_is_analysed_again_and_a_removed_one_forgotten(photo_folder: Path) -> None:
    names = ["obama.jpg", "biden.jpg", "obama2.jpg"]
    analyse_folder(photo_folder, names, workers=1)
    (photo_folder / "obama.jpg").write_bytes((photo_folder / "biden.jpg").read_bytes())
    (photo_folder / "obama2.jpg").unlink()
    again = analyse_folder(photo_folder, names, workers=1)
    assert list(again) == ["obama.jpg", "biden.jpg"]
    assert again["obama.jpg"].faces[0].descriptor == again["biden.jpg"].faces[0].descriptor
    saved = json.loads(cache_file_for(photo_folder).read_text())
    assert sorted(saved["photos"]) == ["biden.jpg", "obama.jpg"]


def test_a_broken_photo_is_an_error_result_not_an_exception(photo_folder: Path) -> None:
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    result = analyse_folder(photo_folder, ["broken.jpg", "obama.jpg", "biden.jpg"], workers=2)
    assert result["broken.jpg"].error and result["broken.jpg"].faces == ()
    assert json.loads(cache_file_for(photo_folder).read_text())["photos"]["broken.jpg"]["faces"]["error"]


def test_a_corrupt_cache_file_is_ignored_and_an_unwritable_cache_still_answers(photo_folder: Path) -> None:
    cache_file_for(photo_folder).parent.mkdir(parents=True, exist_ok=True)
    cache_file_for(photo_folder).write_text("{not json")
    assert len(analyse_folder(photo_folder, ["obama.jpg"], workers=1)["obama.jpg"].faces) == 1
    assert "obama.jpg" in json.loads(cache_file_for(photo_folder).read_text())["photos"]
    cache = FaceCache(photo_folder / "obama.jpg" / "cache.json")
    assert len(analyse_folder(photo_folder, ["obama.jpg"], cache=cache, workers=1)["obama.jpg"].faces) == 1


def test_non_utf8_names_go_through_the_workers(photo_folder: Path) -> None:
    odd = os.fsdecode(b"caf\xe9.jpg")
    (photo_folder / "obama.jpg").rename(photo_folder / odd)
    result = analyse_folder(photo_folder, [odd, "biden.jpg", "obama2.jpg"], workers=2)
    assert len(result[odd].faces) == 1


def test_without_dlib_the_analysis_raises_face_model_missing(photo_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qbtui.faces import model

    monkeypatch.setattr(model, "model_files", lambda: None)
    with pytest.raises(FaceModelMissing):
        analyse_folder(photo_folder, ["obama.jpg"])
