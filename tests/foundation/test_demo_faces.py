"""The demo's drawn portraits are faces to dlib: Ada's are found, Ben's folder shows each face problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qbtui.dataset.checked import check_friend
from qbtui.dataset.scan import FriendStatus
from qbtui.faces.model import face_model_available
from qbtui.registry import Registry

pytestmark = pytest.mark.skipif(not face_model_available(), reason="needs dlib-bin and face_recognition_models")

# Photo-level face problems each of Ben's face photos is drawn to show.
BEN_FACE_PHOTOS = {
    "someone_else.jpg": "other-person",
    "group_photo.jpg": "several-faces",
    "blurred.jpg": "face-blurred",
    "too_dark.jpg": "face-too-dark",
}


@pytest.fixture(scope="module")
def checked(built_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FriendStatus]]:
    """Each demo friend's scan with its face checks, analysed once (in a cache folder of its own)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QBTUI_CACHE_DIR", str(tmp_path_factory.mktemp("demo-face-cache")))
        demo = Registry.load(built_demo / "registry.toml")
        yield {fid: check_friend(demo.settings, friend) for fid, friend in demo.friends.items()}


def _codes(status: FriendStatus, name: str) -> set[str]:
    return {problem.code for image in status.images if image.path.name == name for problem in image.problems}


def test_the_detector_finds_the_face_in_nearly_every_photo_of_ada(checked: dict[str, FriendStatus]) -> None:
    ada = checked["ada"]
    assert ada.faces is not None and ada.faces.photos == 24
    assert ada.faces.with_face >= 0.9 * ada.faces.photos
    assert all(image.face is not None for image in ada.images if image.faces and image.faces.faces)


def test_ada_stays_ready_with_no_face_warning(checked: dict[str, FriendStatus]) -> None:
    ada = checked["ada"]
    assert [problem.message for problem in ada.all_problems()] == []
    assert ada.ready


def test_bens_face_photos_show_their_face_problems(checked: dict[str, FriendStatus]) -> None:
    ben = checked["ben"]
    for name, code in BEN_FACE_PHOTOS.items():
        assert code in _codes(ben, name), f"{name}: {_codes(ben, name)}"


def test_only_the_someone_else_photo_is_taken_for_someone_else(checked: dict[str, FriendStatus]) -> None:
    ben = checked["ben"]
    flagged = {image.path.name for image in ben.images for problem in image.problems if problem.code == "other-person"}
    assert flagged == {"someone_else.jpg"}
    group = next(image for image in ben.images if image.path.name == "group_photo.jpg")
    assert group.faces is not None and len(group.faces.faces) == 2
    assert group.face is not None and group.face.centre[0] < 450  # Ben stands on the left


def test_every_friend_looks_like_themself(checked: dict[str, FriendStatus]) -> None:
    for status in checked.values():
        assert status.faces is not None and status.faces.centroid is not None, status.friend_id
