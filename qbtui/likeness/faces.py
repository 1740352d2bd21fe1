"""The face model's findings in samples and in the friend's photos, as the scoring wants them.

`detector` is anything with `detect(pil_image) -> list[Face]` (`qbtui.faces.FaceModel`), so
tests can hand in real photographs, or a stand-in, without sampling anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from qbtui.errors import QbtuiError
from qbtui.likeness.scoring import SampleFaces, standardise
from qbtui.safefile import open_regular

CROP_SIDE = 24
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def face_crop(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    """The face's box as a standardised CROP_SIDE x CROP_SIDE grey thumbnail."""
    grey = image.convert("L").crop(box).resize((CROP_SIDE, CROP_SIDE), Image.Resampling.BILINEAR)
    return standardise([float(value) for value in grey.tobytes()])


def sample_faces(detector: Any, image: Image.Image, *, path: str, prompt: str, kind: str, seed: int) -> SampleFaces:
    """Detect the faces of one sample image."""
    faces = detector.detect(image)
    crop = face_crop(image, faces[0].box) if len(faces) == 1 else None
    return SampleFaces(path, prompt, kind, seed, tuple(tuple(face.descriptor) for face in faces), crop)


def training_photos(folder: Path) -> list[Path]:
    """The friend's photos: images in `folder` and in its `N_name` training folders, sorted."""
    folders = [folder, *sorted(p for p in folder.glob("[0-9]*_*") if p.is_dir())]
    photos = []
    for candidate in folders:
        photos += sorted(p for p in candidate.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    return photos


def reference_descriptors(detector: Any, photos: Iterable[Path]) -> tuple[list[tuple[float, ...]], int]:
    """Descriptors of the photos showing exactly one face (a group photo does not say who the friend is), and the photo count."""
    descriptors = []
    count = 0
    for photo in photos:
        count += 1
        try:
            with open_regular(photo) as handle, Image.open(handle) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except OSError:
            continue
        faces = detector.detect(image)
        if len(faces) == 1:
            descriptors.append(tuple(faces[0].descriptor))
    return descriptors, count


def friend_references(detector: Any, folder: Path, friend: str) -> tuple[list[tuple[float, ...]], int]:
    """`reference_descriptors` of the friend's photos; QbtuiError naming why and the fix when none shows one face
    (drawings, a dataset without faces): there is nothing to measure likeness against."""
    references, count = reference_descriptors(detector, training_photos(folder))
    if not references:
        raise QbtuiError(
            f"none of {friend}'s {count} photos shows one face to compare with",
            path=folder,
            fix=f"add photos where {friend}'s face is clearly visible (one face each), then train again",
        )
    return references, count
