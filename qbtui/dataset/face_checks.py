"""Judge a friend's photos by the faces in them: who, how large, how sharp, how lit, which angle.

`check_faces(status, analyses, prep_mode)` is pure: it takes a scan and the face analysis
of its photos (qbtui.faces.analyse_folder) and returns the scan with face problems and
facts added. `scan_faces` does both steps; where dlib is missing it returns the scan
unchanged and says so once through `FACE_CHECKS_SKIPPED`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from qbtui.dataset.problems import Problem, make_problem
from qbtui.dataset.scan import TARGET_SIZE, FriendStatus, ImageStatus
from qbtui.faces.framing import face_in_frame, face_square, letterbox_frame
from qbtui.faces.measure import FRONT, POSES, PROFILE, THREE_QUARTER
from qbtui.faces.model import SAME_PERSON_DISTANCE, Face, face_distance

if TYPE_CHECKING:
    from qbtui.faces.analysis import FaceCache
    from qbtui.faces.model import PhotoFaces

FACE_MODE = "face"
# In the prepared 512 frame, a face (brows to chin) under this many pixels carries little detail.
MIN_FACE_IN_FRAME = 96
# A second face at least this share of the friend's face's height counts as another person in the shot.
SECOND_FACE_SHARE = 0.4
# Contrast-normalised Laplacian variance of the face at 128 px: sharp test photos measure 210-480,
# the same blurred by a 2 px Gaussian 34-64, by 4 px 10-16.
MIN_SHARPNESS = 40.0
MIN_BRIGHTNESS = 55.0
MAX_BRIGHTNESS = 205.0
# Pose advice needs a few faces to mean anything.
MIN_FACES_FOR_POSES = 5
MAX_POSE_SHARE = 0.8
MIN_FRONT_SHARE = 0.4

UNREADABLE_CODES = frozenset({"unreadable", "zero-bytes", "decompression-bomb"})

FACE_CHECKS_SKIPPED: list[str] = []


@dataclass(frozen=True)
class FaceSummary:
    """The faces of a friend's dataset at a glance."""

    photos: int
    with_face: int
    poses: dict[str, int]
    centroid: tuple[float, ...] | None
    complete: bool = True  # False while some photos still wait for their analysis

    def describe(self) -> str:
        """e.g. "22 of 24 photos · front 12 · three-quarter 8 · profile 2", or what is still to do."""
        if not self.complete:
            return f"checking the photos ({self.photos} done)"
        return f"{self.with_face} of {self.photos} photos · {self.pose_mix()}"

    def pose_mix(self) -> str:
        """e.g. "front 12 · three-quarter 5 · profile 0"."""
        return " · ".join(f"{pose} {self.poses.get(pose, 0)}" for pose in POSES)


def scan_faces(
    status: FriendStatus,
    *,
    prep_mode: str = FACE_MODE,
    workers: int = 2,
    cache: FaceCache | None = None,
    compute: bool = True,
    describe: bool = True,
) -> FriendStatus:
    """The scan with face checks; unchanged (and the reason noted once) where dlib is missing.

    `describe=False` (prep): photos of one face may come without descriptors, and then no
    face is judged by likeness (no friend's centroid, no "other-person").
    """
    from qbtui.faces.analysis import analyse_folder
    from qbtui.faces.model import FaceModelMissing

    names = [image.path.name for image in status.images if not _unreadable(image)]  # a bomb is never decoded
    if not names:
        return status
    try:
        analyses = analyse_folder(status.folder, names, cache=cache, workers=workers, compute=compute, describe=describe)
    except FaceModelMissing as error:
        if not FACE_CHECKS_SKIPPED:
            FACE_CHECKS_SKIPPED.append(f"face checks skipped: {error.message}; fix: {error.fix}")
        return status
    return check_faces(status, analyses, prep_mode)


def faces_missing(status: FriendStatus) -> bool:
    """True when a readable photo of the scan has no face analysis yet."""
    return any(image.faces is None and not _unreadable(image) for image in status.images)


def _unreadable(image: ImageStatus) -> bool:
    return any(problem.code in UNREADABLE_CODES for problem in image.problems)


def majority_centroid(faces: list[Face]) -> tuple[float, ...] | None:
    """The mean descriptor of the largest group of mutually similar faces, if it is a majority."""
    if len(faces) < 3:
        return None
    neighbours = [[other for other in faces if face_distance(face, other) < SAME_PERSON_DISTANCE] for face in faces]
    group = max(neighbours, key=len)
    if len(group) * 2 <= len(faces):
        return None
    return tuple(sum(values) / len(group) for values in zip(*(face.descriptor for face in group), strict=True))


def friend_face(faces: tuple[Face, ...], centroid: tuple[float, ...] | None) -> Face | None:
    """The face most like the friend: nearest the centroid, else the largest."""
    if not faces:
        return None
    if centroid is None:
        return faces[0]
    return min(faces, key=lambda face: face_distance(face.descriptor, centroid))


def crop_frame(image: ImageStatus, prep_mode: str) -> tuple[int, int, int, int] | None:
    """The square prep crops for this photo in face mode; None means letterbox."""
    if prep_mode != FACE_MODE or image.face is None or image.faces is None:
        return None
    return face_square(image.face.box, image.faces.size)


def check_faces(status: FriendStatus, analyses: dict[str, PhotoFaces], prep_mode: str = FACE_MODE) -> FriendStatus:
    """The scan with each analysed photo's face problems and, once every photo is analysed,
    the friend's: who the friend is (the majority), pose advice."""
    complete = all(image.path.name in analyses for image in status.images if not _unreadable(image))
    largest = [analysis.faces[0] for analysis in analyses.values() if analysis.faces]
    centroid = majority_centroid(largest) if complete and all(face.described for face in largest) else None
    decoded = sum(1 for analysis in analyses.values() if analysis.error is None)
    # Mostly no faces (drawings, say): one dataset notice rather than one per photo.
    none_found = complete and decoded > 0 and len(largest) * 2 < decoded
    images = []
    poses: Counter[str] = Counter()
    for image in status.images:
        analysis = analyses.get(image.path.name)
        if analysis is None or analysis.error is not None:
            images.append(image if analysis is None else replace(image, faces=analysis))
            continue
        face = friend_face(analysis.faces, centroid)
        checked = replace(image, faces=analysis, face=face)
        if face is not None:
            poses[face.pose] += 1
        found = [] if none_found else _photo_problems(checked, centroid, prep_mode, status.friend_id, complete)
        images.append(replace(checked, problems=image.problems + tuple(found)))
    summary = FaceSummary(len(analyses), len(largest), {pose: poses.get(pose, 0) for pose in POSES}, centroid, complete)
    friend_problems = _friend_problems(status, summary, none_found) if complete else []
    problems = status.problems + tuple(friend_problems)
    return replace(status, images=tuple(images), problems=problems, faces=summary)


def _photo_problems(
    image: ImageStatus, centroid: tuple[float, ...] | None, prep_mode: str, fid: str, complete: bool
) -> list[Problem]:
    path = image.path
    face = image.face
    if face is None:
        if not complete:  # whether a missing face is this photo's problem or the folder's waits for every photo
            return []
        fallback = "; prep letterboxes it" if prep_mode == FACE_MODE else ""
        return [make_problem("no-face", f"{path}: no face found{fallback}", path, fid)]
    found = []
    others = [other for other in image.faces.faces if other is not face and other.height >= SECOND_FACE_SHARE * face.height]
    if others:
        found.append(
            make_problem(
                "several-faces", f"{path}: {len(others) + 1} faces; the friend's is taken to be at {face.box}", path, fid
            )
        )
    if centroid is not None and (distance := face_distance(face.descriptor, centroid)) > SAME_PERSON_DISTANCE:
        found.append(
            make_problem(
                "other-person",
                f"{path}: probably someone else (face distance {distance:.2f} from the friend's other photos, same person < {SAME_PERSON_DISTANCE})",
                path,
                fid,
            )
        )
    size = image.faces.size
    prepared = size == (TARGET_SIZE, TARGET_SIZE)
    frame = letterbox_frame(size) if prepared or prep_mode != FACE_MODE else face_square(face.box, size)
    in_frame = face_in_frame(face.box, frame)
    if in_frame < MIN_FACE_IN_FRAME:
        found.append(
            make_problem(
                "face-too-small",
                f"{path}: the face is {in_frame:.0f} px tall in the 512 frame (under {MIN_FACE_IN_FRAME})",
                path,
                fid,
            )
        )
    if not prepared and prep_mode == FACE_MODE and min(size) < TARGET_SIZE:
        found.append(
            make_problem("crop-upscaled", f"{path}: the face crop is {min(size)} px of the photo, enlarged to 512", path, fid)
        )
    if face.sharpness < MIN_SHARPNESS:
        found.append(
            make_problem(
                "face-blurred",
                f"{path}: the face is blurred (sharpness {face.sharpness:.0f}, under {MIN_SHARPNESS:.0f})",
                path,
                fid,
            )
        )
    if face.brightness < MIN_BRIGHTNESS:
        found.append(
            make_problem("face-too-dark", f"{path}: the face is too dark (brightness {face.brightness:.0f} of 255)", path, fid)
        )
    elif face.brightness > MAX_BRIGHTNESS:
        found.append(
            make_problem(
                "face-too-bright", f"{path}: the face is too bright (brightness {face.brightness:.0f} of 255)", path, fid
            )
        )
    return found


def _friend_problems(status: FriendStatus, summary: FaceSummary, none_found: bool) -> list[Problem]:
    folder: Path = status.folder
    fid = status.friend_id
    if none_found:
        found = f"a face found in only {summary.with_face} of" if summary.with_face else "no face found in any of the"
        return [make_problem("few-faces-found", f"{folder}: {found} {summary.photos} photos", folder, fid)]
    faced = summary.with_face
    if faced < MIN_FACES_FOR_POSES:
        return []
    advice: list[Problem] = []
    counts = summary.poses
    top_pose, top_count = max(counts.items(), key=lambda item: item[1])
    if top_count > MAX_POSE_SHARE * faced or counts[THREE_QUARTER] + counts[PROFILE] == 0:
        advice.append(
            make_problem(
                "pose-mix",
                f"{folder}: {top_count} of {faced} faces are {top_pose} ({summary.pose_mix()}); the guide asks for various angles",
                folder,
                fid,
            )
        )
    if counts[FRONT] < MIN_FRONT_SHARE * faced:
        advice.append(
            make_problem(
                "few-front-faces",
                f"{folder}: only {counts[FRONT]} of {faced} faces look at the camera (under {MIN_FRONT_SHARE:.0%})",
                folder,
                fid,
            )
        )
    return advice


def face_facts(image: ImageStatus, summary: FaceSummary | None = None) -> str | None:
    """One line about the photo's face for the dataset screen, agreeing with the photo's
    problems (`summary`: the folder's, to say whether the other photos are still checked);
    None before the analysis."""
    analysis = image.faces
    if analysis is None:
        return None
    if analysis.error is not None:
        return f"face: not analysed ({analysis.error})"
    face = image.face
    if face is None:
        if any(problem.code == "no-face" for problem in image.problems):
            return "face: none found"
        if summary is not None and not summary.complete:
            return "face: none found so far (the other photos are still being checked)"
        return "face: none found (counted once, for the folder: most photos have none)"
    count = f" · {len(analysis.faces)} faces" if len(analysis.faces) > 1 else ""
    return f"face: {face.pose} · {face.height} px · sharpness {face.sharpness:.0f} · light {face.brightness:.0f}/255{count}"


def face_box_share(image: ImageStatus) -> tuple[float, float, float, float] | None:
    """The friend's face box as shares (0-1) of the photo's width and height, for drawing it on a preview."""
    if image.face is None or image.faces is None or not all(image.faces.size):
        return None
    width, height = image.faces.size
    left, top, right, bottom = image.face.box
    return (left / width, top / height, right / width, bottom / height)
