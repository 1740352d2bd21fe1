"""Face problems on real photos: someone else, a group, no face, blur, light, size, poses."""

from __future__ import annotations

from PIL import Image, ImageEnhance, ImageFilter

from qbtui.dataset import face_checks
from qbtui.dataset.face_checks import FaceSummary, check_faces, scan_faces
from qbtui.dataset.problems import CATALOGUE
from qbtui.dataset.scan import scan_friend
from qbtui.faces.analysis import PhotoFaces
from tests.dataset.conftest import draw_photo
from tests.faces.conftest import group_photo, put_photo

OBAMAS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face2.jpg")


def codes_by_photo(status) -> dict[str, set[str]]:
    return {image.path.name: {problem.code for problem in image.problems} for image in status.images}


FACE_CODES = {code for code in CATALOGUE if code.startswith(("face-", "no-face", "several", "other", "crop", "pose", "few"))}


def test_a_photo_of_someone_else_a_group_and_a_drawing_are_named(settings, friend, friend_folder, face_photos):
    for name in OBAMAS:
        put_photo(friend_folder, face_photos, name)
    put_photo(friend_folder, face_photos, "biden.jpg")
    put_photo(friend_folder, face_photos, "obama.jpg", "group.jpg", edit=lambda _image: group_photo(face_photos))
    put_photo(friend_folder, face_photos, "obama.jpg", "drawing.jpg", edit=lambda _image: draw_photo(3, (800, 600)))
    status = scan_faces(scan_friend(settings, friend), workers=2)
    codes = {name: found & FACE_CODES for name, found in codes_by_photo(status).items()}
    assert codes["biden.jpg"] == {"other-person"}
    assert codes["group.jpg"] == {"several-faces"}
    assert codes["drawing.jpg"] == {"no-face"}
    assert all(codes[name] == set() for name in OBAMAS)
    group = next(image for image in status.images if image.path.name == "group.jpg")
    assert group.face.box[2] < 800, "the friend's face in the group is Obama's, on the left"
    assert not status.ready
    assert isinstance(status.faces, FaceSummary) and status.faces.with_face == 6 and status.faces.photos == 7


def test_blurred_dark_bright_and_tiny_faces_are_flagged(settings, friend, friend_folder, face_photos):
    for name in OBAMAS:
        put_photo(friend_folder, face_photos, name)
    put_photo(
        friend_folder, face_photos, "obama.jpg", "blurred.jpg", edit=lambda image: image.filter(ImageFilter.GaussianBlur(5))
    )
    put_photo(friend_folder, face_photos, "obama.jpg", "dark.jpg", edit=lambda image: ImageEnhance.Brightness(image).enhance(0.3))
    put_photo(
        friend_folder, face_photos, "obama.jpg", "bright.jpg", edit=lambda image: ImageEnhance.Brightness(image).enhance(2.6)
    )

    def far_away(image: Image.Image) -> Image.Image:
        canvas = Image.new("RGB", (1300, 1000), (120, 120, 120))
        canvas.paste(image.resize((image.width // 3, image.height // 3)), (500, 300))
        return canvas

    put_photo(friend_folder, face_photos, "obama.jpg", "far.jpg", edit=far_away)
    status = scan_faces(scan_friend(settings, friend), workers=2)
    codes = {name: found & FACE_CODES for name, found in codes_by_photo(status).items()}
    assert "face-blurred" in codes["blurred.jpg"]
    assert "face-too-dark" in codes["dark.jpg"] and "face-blurred" not in codes["dark.jpg"]
    assert "face-too-bright" in codes["bright.jpg"]
    assert codes["far.jpg"] == {"face-too-small"}
    letterbox = check_faces(scan_friend(settings, friend), {"obama.jpg": _faces_of(status, "obama.jpg")}, "letterbox")
    assert {
        p.code for p in letterbox.images[[i.path.name for i in letterbox.images].index("obama.jpg")].problems
    } & FACE_CODES == set()


def _faces_of(status, name: str) -> PhotoFaces:
    return next(image.faces for image in status.images if image.path.name == name)


def test_only_drawings_give_one_dataset_notice_not_one_per_photo(settings, friend, friend_folder):
    for seed in range(4):
        draw_photo(seed, (640, 480)).save(friend_folder / f"d{seed}.jpg")
    status = scan_faces(scan_friend(settings, friend), workers=1)
    assert [problem.code for problem in status.problems if problem.code in FACE_CODES | {"few-faces-found"}] == [
        "few-faces-found"
    ]
    assert all(not (codes & FACE_CODES) for codes in codes_by_photo(status).values())
    assert status.ready == scan_friend(settings, friend).ready


def test_the_pose_mix_and_front_faces_are_judged_per_friend(settings, friend, friend_folder, face_photos):
    for index in range(5):
        put_photo(friend_folder, face_photos, "obama.jpg", f"front{index}.jpg", edit=lambda image, i=index: image.rotate(i * 2))
    status = scan_faces(scan_friend(settings, friend), workers=2)
    assert status.faces.poses["front"] == 5
    assert [p.code for p in status.problems if p.code in FACE_CODES] == ["pose-mix"]
    summary = FaceSummary(6, 6, {"front": 1, "three-quarter": 4, "profile": 1}, None)
    found = face_checks._friend_problems(status, summary, none_found=False)
    assert [p.code for p in found] == ["few-front-faces"]


def test_without_dlib_the_scan_is_unchanged_and_says_so_once(settings, friend, friend_folder, face_photos, monkeypatch):
    from qbtui.faces import model

    put_photo(friend_folder, face_photos, "obama.jpg")
    monkeypatch.setattr(model, "model_files", lambda: None)
    monkeypatch.setattr(face_checks, "FACE_CHECKS_SKIPPED", [])
    status = scan_friend(settings, friend)
    assert scan_faces(status) == status and scan_faces(status) == status
    assert len(face_checks.FACE_CHECKS_SKIPPED) == 1 and "pip install" in face_checks.FACE_CHECKS_SKIPPED[0]
