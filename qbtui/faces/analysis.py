"""The faces of every photo of a folder, cached on disk by name, size and mtime.

`analyse_folder` is what the CLI and the dashboard call: photos whose file is unchanged
since the last analysis come from the cache file (one JSON file per training folder, in
qbtui's cache folder, so friends' folders are never written); the others are analysed on
both cores by worker subprocesses (see pool.py) and the cache file is rewritten atomically.
Prep asks for boxes only (`describe=False`): such an analysis is cached too, marked by its
faces' empty descriptors, and a caller that needs descriptors completes it (`describe_photo`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from qbtui.atomicfile import write_text_atomic
from qbtui.faces.model import DETECT_LONG_SIDE, STOPPED, FaceModel, PhotoFaces
from qbtui.safefile import read_text

# Version 2 may hold box-only analyses, which version 1's readers would take for described faces.
CACHE_VERSION = 2
READABLE_VERSIONS = (1, 2)
# A worker that died answers this; unlike a photo that cannot be decoded, it is not cached.
# Pool start-up costs about a second; fewer photos than this are analysed in-process.
POOL_THRESHOLD = 3

FileKey = tuple[int, int]
Progress = Callable[[int, int], None]


def analyse_photo(path: Path, model: FaceModel, *, describe: bool = True) -> PhotoFaces:
    """Detect the faces of one photo (decoded at reduced scale) in full-size coordinates;
    `describe=False`: without descriptors where the photo has one face (FaceModel.detect)."""
    from qbtui.faces.photo import load_photo

    try:
        image, size = load_photo(path, at_least=DETECT_LONG_SIDE)
        faces = model.detect(image, describe=describe)
    except Exception as error:  # noqa: BLE001 - any undecodable file is reported, not raised
        return PhotoFaces((0, 0), (), f"{type(error).__name__}: {error}")
    factor = size[0] / image.width
    if abs(factor - 1) > 1e-9:
        faces = [face.scaled(factor, size) for face in faces]
    return PhotoFaces(size, tuple(faces))


def describe_photo(path: Path, model: FaceModel, known: PhotoFaces) -> PhotoFaces:
    """A box-only analysis of `path` (unchanged since) completed with its descriptors,
    without detecting again: what `analyse_photo(path, model)` gives, for under half its cost."""
    from qbtui.faces.photo import load_photo

    try:
        image, size = load_photo(path, at_least=DETECT_LONG_SIDE)
        factor = size[0] / image.width
        faces = model.describe(image, [face.scaled(1 / factor, image.size) for face in known.faces])
    except Exception as error:  # noqa: BLE001 - any undecodable file is reported, not raised
        return PhotoFaces((0, 0), (), f"{type(error).__name__}: {error}")
    return replace(
        known, faces=tuple(replace(face, descriptor=new.descriptor) for face, new in zip(known.faces, faces, strict=True))
    )


def cache_file_for(folder: Path) -> Path:
    """Where the face analysis of a training folder is kept: in qbtui's cache folder, one file per folder."""
    from qbtui.locations import cache_dir

    resolved = os.fsencode(os.path.realpath(folder))
    digest = hashlib.sha256(resolved).hexdigest()[:20]
    return cache_dir() / "faces" / f"{digest}.json"


class FaceCache:
    """Analyses keyed by file name + (size, mtime_ns), loaded from and saved to one JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, tuple[FileKey, PhotoFaces]] = {}
        self._loaded_from: tuple | None = None
        self.dirty = False

    def load(self) -> None:
        """Read the cache file if it changed since the last read; a bad file counts as empty."""
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except OSError:
            return
        signature = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if signature == self._loaded_from:
            return
        try:
            data = json.loads(read_text(self.path))
            if data.get("version") not in READABLE_VERSIONS:
                return
            entries = {
                name: ((entry["key"][0], entry["key"][1]), PhotoFaces.from_json(entry["faces"]))
                for name, entry in data["photos"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return
        self.entries.update(entries)
        self._loaded_from = signature

    def box_only(self, name: str, key: FileKey) -> PhotoFaces | None:
        """The cached box-only analysis of an unchanged file, to be completed by `describe_photo`."""
        entry = self.entries.get(name)
        return entry[1] if entry is not None and entry[0] == key and not entry[1].described else None

    def get(self, name: str, key: FileKey, *, describe: bool = True) -> PhotoFaces | None:
        """The cached analysis of an unchanged file; with `describe`, only one with descriptors."""
        entry = self.entries.get(name)
        if entry is None or entry[0] != key or (describe and not entry[1].described):
            return None
        return entry[1]

    def put(self, name: str, key: FileKey, faces: PhotoFaces) -> None:
        self.entries[name] = (key, faces)
        self.dirty = True

    def save(self, folder: Path, present: Iterable[str]) -> None:
        """Write the file, forgetting photos gone from `folder`; an unwritable folder is not an error."""
        if self.path is None:
            return
        known = set(present)
        gone = [name for name in self.entries if name not in known and not (folder / name).exists()]
        if not self.dirty and not gone:
            return
        for name in gone:
            del self.entries[name]
        data = {
            "version": CACHE_VERSION,
            "photos": {name: {"key": list(key), "faces": faces.to_json()} for name, (key, faces) in sorted(self.entries.items())},
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps(data, separators=(",", ":")))
        except OSError:
            return
        self.dirty = False
        try:
            stat = self.path.stat()
            self._loaded_from = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        except OSError:
            self._loaded_from = None


def photo_keys(folder: Path, names: Iterable[str]) -> dict[str, FileKey]:
    """(size, mtime_ns) of each named file that exists."""
    keys = {}
    for name in names:
        try:
            stat = os.stat(folder / name)
        except OSError:
            continue
        keys[name] = (stat.st_size, stat.st_mtime_ns)
    return keys


def analyse_folder(
    folder: Path,
    names: Iterable[str],
    *,
    cache: FaceCache | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    compute: bool = True,
    describe: bool = True,
) -> dict[str, PhotoFaces]:
    """The faces of each named photo of `folder`, from the cache or analysed now.

    Raises FaceModelMissing (before any work) when dlib or its models are not installed.
    A photo that cannot be decoded gets a result with `error` set (cached like any other
    until the file changes); a worker that died answers STOPPED, not cached. With
    `compute=False` only cached photos are answered (no model is loaded). With
    `describe=False` a photo of one face may come without its descriptor (what prep needs).
    """
    from qbtui.faces.model import face_model_available

    if not face_model_available():
        FaceModel.load()  # raises FaceModelMissing naming what is missing
    if cache is None:
        cache = FaceCache(cache_file_for(folder))
    cache.load()
    keys = photo_keys(folder, names)
    results: dict[str, PhotoFaces] = {}
    missing = []
    for name, key in keys.items():
        known = cache.get(name, key, describe=describe)
        if known is None:
            missing.append(name)
        else:
            results[name] = known
    if missing and compute:
        box_only = {name: boxes for name in missing if describe and (boxes := cache.box_only(name, keys[name])) is not None}
        for name, faces in _analyse(folder, missing, workers, progress, describe, box_only):
            results[name] = faces
            if faces.error != STOPPED:
                cache.put(name, keys[name], faces)
    cache.save(folder, keys)
    return {name: results[name] for name in keys if name in results}


def _analyse(
    folder: Path, names: list[str], workers: int, progress: Progress | None, describe: bool, known: dict[str, PhotoFaces]
) -> Iterable[tuple[str, PhotoFaces]]:
    """Each photo analysed, or, where `known` holds its box-only analysis, described."""
    paths = [folder / name for name in names]
    if workers <= 1 or len(paths) < POOL_THRESHOLD:
        model = FaceModel.load()
        for index, (name, path) in enumerate(zip(names, paths, strict=True), start=1):
            boxes = known.get(name)
            yield name, analyse_photo(path, model, describe=describe) if boxes is None else describe_photo(path, model, boxes)
            if progress is not None:
                progress(index, len(paths))
        return
    from qbtui.faces.pool import analyse_in_workers

    by_path = {folder / name: faces for name, faces in known.items()}
    for index, (path, faces) in enumerate(analyse_in_workers(paths, workers, describe=describe, known=by_path), start=1):
        yield path.name, faces
        if progress is not None:
            progress(index, len(paths))
