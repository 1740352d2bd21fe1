"""The public-domain test photos of PyPI's face_recognition 1.3.0 sdist, fetched once.

`pip download` fetches the source archive (the package is never installed) and only
`tests/test_images/*` is unpacked into `.cache/face-photos/` (ignored by git). Run as a
script by `scripts/setup --dev`; the `face_photos` fixture calls it when the folder is empty.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHOTO_DIR = REPO / ".cache" / "face-photos"
SDIST = "face_recognition==1.3.0"
MEMBER_DIR = "face_recognition-1.3.0/tests/test_images/"
PHOTOS = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
    "32bit.png",
)


def have_photos(folder: Path = PHOTO_DIR) -> bool:
    return all((folder / name).is_file() for name in PHOTOS)


def fetch_face_photos(folder: Path = PHOTO_DIR) -> Path:
    """The folder holding the photos, downloading and unpacking them if absent."""
    if have_photos(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        command = [sys.executable, "-m", "pip", "download", SDIST, "--no-deps", "--no-binary", ":all:", "--quiet", "-d", download]
        subprocess.run(command, check=True)
        archive = next(Path(download).glob("face_recognition-1.3.0.tar.gz"))
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix(MEMBER_DIR)
                if member.isfile() and member.name.startswith(MEMBER_DIR) and name in PHOTOS:
                    source = tar.extractfile(member)
                    assert source is not None
                    temp = folder / f".{name}.part"
                    temp.write_bytes(source.read())
                    temp.replace(folder / name)
    if not have_photos(folder):
        raise RuntimeError(f"{archive} lacks some of {', '.join(PHOTOS)}")
    return folder


if __name__ == "__main__":
    if not have_photos():
        print(f"face test photos in {fetch_face_photos()}")
