"""Scan one friend's training folder into a FriendStatus: images, captions, problems.

Pure: reads the folder, writes nothing. Image headers only (see imageinfo), near-
duplicate fingerprints decoded at 1/8 scale (see phash), all cached by size and mtime
in an optional ScanCache.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from qbtui.dataset.cache import FileFacts, FileKey, ScanCache
from qbtui.dataset.imageinfo import IMAGE_SUFFIXES, JPEG_FORMATS, ImageInfo, read_image_info
from qbtui.dataset.problems import ERROR, MAX_IMAGES, MIN_IMAGES, Problem, make_problem
from qbtui.errors import QbtuiError
from qbtui.pathlimits import name_length_problem
from qbtui.registry import CAPTION_SUFFIX, Friend, Settings, dataset_dir, friend_root
from qbtui.safefile import kind_of, read_bytes

if TYPE_CHECKING:
    from qbtui.dataset.phash import Fingerprint

IGNORED_SUFFIXES = frozenset({".npz"})
TARGET_SIZE = 512
PARALLEL_FINGERPRINTS = 16
REPEATS_FOLDER = re.compile(r"^(\d+)_(.+)$")


@dataclass(frozen=True)
class ImageStatus:
    """One image of the dataset, its caption and what is wrong with it."""

    path: Path
    caption_path: Path | None
    caption: str | None
    width: int | None
    height: int | None
    format: str | None
    problems: tuple[Problem, ...]
    faces: Any = None  # qbtui.faces.PhotoFaces once the face checks ran
    face: Any = None  # the qbtui.faces.Face taken to be the friend's


@dataclass(frozen=True)
class FriendStatus:
    """A friend's dataset as scanned: images, captions and every problem found."""

    friend_id: str
    folder: Path
    images: tuple[ImageStatus, ...]
    problems: tuple[Problem, ...]
    faces: Any = None  # qbtui.dataset.face_checks.FaceSummary once the face checks ran

    @property
    def image_count(self) -> int:
        return len(self.images)

    @property
    def caption_count(self) -> int:
        return sum(1 for image in self.images if image.caption)

    @property
    def problem_count(self) -> int:
        """The friend's one problem count, errors and warnings alike (face warnings too, once
        checked: see qbtui/dataset/checked.py); every view and command shows this number."""
        return len(self.problems) + sum(len(image.problems) for image in self.images)

    @property
    def problems_text(self) -> str:
        """The count in words: `1 problem`, `24 problems`."""
        return f"{self.problem_count} problem{'' if self.problem_count == 1 else 's'}"

    @property
    def ready(self) -> bool:
        """True when no problem blocks training (warnings may remain)."""
        return not any(problem.severity == ERROR for problem in self.all_problems())

    def blocker(self, *, short: bool = False) -> str | None:
        """Why training would be refused, in a few words (`8 photos, needs 20`; `short`:
        `8 of 20 photos`, for a narrow column); None when ready."""
        blocking = [problem for problem in self.all_problems() if problem.severity == ERROR]
        if not blocking:
            return None
        if any(problem.code == "folder-missing" for problem in blocking):
            return "no training folder"
        if any(problem.code == "too-few-images" for problem in blocking):
            return f"{self.image_count} of {MIN_IMAGES} photos" if short else f"{self.image_count} photos, needs {MIN_IMAGES}"
        return self.problems_text

    def all_problems(self) -> list[Problem]:
        """Every problem, dataset-level first, then per image in file order."""
        found = list(self.problems)
        for image in self.images:
            found.extend(image.problems)
        return found


@dataclass(frozen=True)
class CaptionText:
    """A caption file's text, or why it could not be read."""

    text: str | None
    error: str | None = None

    @property
    def first_line(self) -> str:
        """What kohya trains on: the first line, stripped."""
        lines = (self.text or "").strip().splitlines()
        return lines[0].strip() if lines else ""


@dataclass(frozen=True)
class Listing:
    """The files of a training folder, sorted by name, with their (size, mtime_ns)."""

    images: tuple[tuple[str, FileKey], ...]
    captions: dict[str, tuple[str, FileKey]]
    others: tuple[str, ...]
    broken: tuple[tuple[str, str], ...] = ()
    folders: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()

    @property
    def signature(self) -> tuple[object, ...]:
        return (self.images, tuple(sorted(self.captions.items())), self.others, self.broken, self.folders, self.outside)


def token_pattern(token: str) -> re.Pattern[str]:
    """The token as a whole word, case-insensitive (the CLIP tokenizer lower-cases)."""
    return re.compile(rf"(?<![\w]){re.escape(token)}(?![\w])", re.IGNORECASE)


def read_caption_text(path: Path) -> CaptionText:
    """A caption file's text (BOM tolerated), or a UTF-8 error naming the byte."""
    data = read_bytes(path)
    try:
        return CaptionText(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        return CaptionText(None, f"byte {error.start} is not UTF-8")


def list_folder(folder: Path, boundary: Path | None = None) -> Listing:
    """Classify the visible entries of `folder`; hidden files (our temp files too) are skipped.

    Links that loop or point at nothing are `broken`, folders (FIFOs, sockets, ...) named like
    photos or captions are `folders`, and photos linked from outside `boundary` (resolved) are `outside`.
    """
    images: list[tuple[str, FileKey]] = []
    captions: dict[str, tuple[str, FileKey]] = {}
    others: list[str] = []
    broken: list[tuple[str, str]] = []
    folders: list[str] = []
    outside: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            dot = name.rfind(".")
            suffix = name[dot:].lower() if dot > 0 else ""
            if suffix in IGNORED_SUFFIXES:
                continue
            wanted = suffix in IMAGE_SUFFIXES or suffix == CAPTION_SUFFIX
            try:
                stat = entry.stat() if entry.is_file() else None
            except OSError as error:
                broken.append((name, error.strerror or str(error)))
                continue
            if stat is None:
                if entry.is_symlink() and wanted and not os.path.exists(entry.path):
                    broken.append((name, "the link points at nothing"))
                elif wanted:
                    folders.append(name)
                elif entry.is_symlink():
                    others.append(name)
                continue
            if wanted and boundary is not None and entry.is_symlink() and links_outside(folder / name, boundary):
                outside.append(name)
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            if suffix in IMAGE_SUFFIXES:
                images.append((name, key))
            elif suffix == CAPTION_SUFFIX:
                captions[name[:dot]] = (name, key)
            else:
                others.append(name)
    images.sort()
    others.sort()
    return Listing(tuple(images), captions, tuple(others), tuple(sorted(broken)), tuple(sorted(folders)), tuple(sorted(outside)))


def _what_it_is(path: Path) -> str:
    """`a folder`, `a FIFO (named pipe)`, ...: what an entry named like a photo really is."""
    try:
        return kind_of(path.stat().st_mode)
    except OSError:
        return "not a file"


def _resolves_inside(path: Path, boundary: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(boundary)
    except (OSError, RuntimeError):
        return False


def folder_outside_problem(settings: Settings, friend: Friend, folder: Path) -> Problem | None:
    """A `folder-outside` problem when the training folder (or the friend's folder) is a link
    resolving outside the datasets folder, or into another friend's folder; else None."""
    datasets = settings.datasets_dir.resolve()
    root = friend_root(settings, friend).resolve()
    resolved = folder.resolve()
    if root.is_relative_to(datasets) and root != datasets and resolved.parent == root:
        return None
    return make_problem(
        "folder-outside",
        f"{folder}: links to {resolved}, outside {friend.name}'s folder in {settings.datasets_dir}; qbtui will not change it",
        folder,
        friend.id,
    )


def locate_training_folder(settings: Settings, friend: Friend) -> tuple[Path | None, list[Problem]]:
    """The folder to scan and the folder-level problems (missing, repeats not matching)."""
    expected = dataset_dir(settings, friend)
    root = friend_root(settings, friend)
    found: list[str] = []
    if root.is_dir():
        with os.scandir(root) as entries:
            for entry in entries:
                match = REPEATS_FOLDER.match(entry.name)
                if match and match.group(2) == friend.id and entry.is_dir():
                    found.append(entry.name)
    found.sort()
    if expected.name in found:
        strays = [name for name in found if name != expected.name]
        problems = [
            make_problem(
                "repeats-mismatch",
                f"{root / name}: a second repeats folder beside {expected.name}; kohya would train both",
                root / name,
                friend.id,
                fix=f"move its photos into {expected.name} and remove it",
            )
            for name in strays
        ]
        return expected, problems
    if found:
        problems = [
            make_problem(
                "repeats-mismatch",
                f"{root / name}: the folder says {name.split('_', 1)[0]} repeats, the registry says {friend.repeats}",
                root / name,
                friend.id,
                fix=f"rename it to {expected.name}, or set repeats = {name.split('_', 1)[0]} for {friend.id} in registry.toml",
            )
            for name in found
        ]
        return root / found[0], problems
    missing = make_problem(
        "folder-missing",
        f"{expected}: the training folder does not exist",
        expected,
        friend.id,
        fix=f"create {expected} and copy {friend.name}'s photos into it",
    )
    return None, [missing]


def scan_friend(settings: Settings, friend: Friend, cache: ScanCache | None = None, *, fingerprints: bool = True) -> FriendStatus:
    """Scan the friend's training folder; with a cache, unchanged files are not re-read.

    Near-duplicate detection decodes each new image at 1/8 scale (about 1 ms). With
    `fingerprints=False` only fingerprints already in the cache are compared, so a
    first scan of many friends reads headers only; scan again with True (in the
    background) to complete it.
    """
    too_long = name_length_problem(
        settings.datasets_dir, settings.lora_dir, settings.logs_dir, friend.id, friend.token, friend.repeats
    )
    if too_long is not None:
        problem = make_problem("name-too-long", f"{friend.id[:40]}...: {too_long}", friend_root(settings, friend), friend.id)
        return FriendStatus(friend.id, dataset_dir(settings, friend), (), (problem,))
    folder, folder_problems = locate_training_folder(settings, friend)
    if folder is None:
        return FriendStatus(friend.id, dataset_dir(settings, friend), (), tuple(folder_problems))
    outside_problem = folder_outside_problem(settings, friend, folder)
    if outside_problem is not None:
        folder_problems.append(outside_problem)
    listing = list_folder(folder, settings.datasets_dir.resolve())
    memory = cache.folder(folder) if cache is not None else None
    status_key = (friend.id, friend.token.lower(), friend.repeats, fingerprints, tuple(folder_problems), listing.signature)
    if memory is not None and memory.status_key == status_key:
        remembered: FriendStatus = memory.status
        return remembered
    facts = FileFacts(memory)
    status = _build_status(friend, folder, listing, facts, folder_problems, fingerprints)
    if memory is not None:
        memory.files = facts.current
        memory.status_key = status_key
        memory.status = status
    return status


def scan_existing(settings: Settings, friend: Friend) -> FriendStatus:
    """A header-only scan for commands that change files; a missing folder is a QbtuiError."""
    status = scan_friend(settings, friend, fingerprints=False)
    for problem in status.problems:
        if problem.code in ("folder-missing", "name-too-long"):
            raise QbtuiError(problem.message, path=problem.path, fix=problem.fix)
    return status


def _build_status(
    friend: Friend, folder: Path, listing: Listing, facts: FileFacts, folder_problems: list[Problem], fingerprints: bool
) -> FriendStatus:
    pattern = token_pattern(friend.token)
    infos = {name: facts.get(name, key, "info", partial(read_image_info, folder / name, key[0])) for name, key in listing.images}
    stems: dict[str, list[str]] = {}
    for name, _key in listing.images:
        stems.setdefault(os.path.splitext(name)[0], []).append(name)
    duplicates = _near_duplicates(folder, listing, infos, facts, fingerprints)
    linked_captions = _outside_captions(listing, stems)
    images = []
    for name, _key in listing.images:
        stem = os.path.splitext(name)[0]
        caption_entry = listing.captions.get(stem)
        caption = None
        if caption_entry is not None:
            caption_name, caption_key = caption_entry
            caption = facts.get(caption_name, caption_key, "caption", partial(read_caption_text, folder / caption_name))
        problems = _image_problems(folder / name, infos[name], caption, pattern, friend)
        if stem in linked_captions:  # its caption is a link out: that, not "no caption", is the problem
            problems = [p for p in problems if p.code != "no-caption"]
            problems.append(link_outside_problem(folder / linked_captions[stem], friend.id))
        problems += _clash_problems(folder, name, stems[stem], friend.id)
        if name in duplicates:
            problems.append(
                make_problem("near-duplicate", f"{folder / name}: looks like {duplicates[name]}", folder / name, friend.id)
            )
        info = infos[name]
        images.append(
            ImageStatus(
                path=folder / name,
                caption_path=folder / caption_entry[0] if caption_entry else None,
                caption=caption.text.strip() if caption is not None and caption.text is not None else None,
                width=info.width,
                height=info.height,
                format=info.format,
                problems=tuple(problems),
            )
        )
    problems = list(folder_problems) + _loose_file_problems(folder, listing, stems, friend.id, set(linked_captions.values()))
    problems += _count_problems(folder, len(images), friend.id)
    return FriendStatus(friend.id, folder, tuple(images), tuple(problems))


def _image_problems(
    path: Path, info: ImageInfo, caption: CaptionText | None, pattern: re.Pattern[str], friend: Friend
) -> list[Problem]:
    found: list[Problem] = []
    fid = friend.id
    if info.size_bytes == 0:
        found.append(make_problem("zero-bytes", f"{path}: the file is empty (0 bytes)", path, fid))
    elif info.too_many_pixels:
        found.append(make_problem("decompression-bomb", f"{path}: too many pixels to open safely ({info.error})", path, fid))
    elif not info.readable:
        found.append(make_problem("unreadable", f"{path}: cannot be read as an image: {info.error}", path, fid))
    else:
        found.extend(_pixel_problems(path, info, fid))
    found.extend(_caption_problems(path, caption, pattern, friend))
    return found


def _pixel_problems(path: Path, info: ImageInfo, fid: str) -> list[Problem]:
    found: list[Problem] = []
    width, height = info.width or 0, info.height or 0
    if info.format not in JPEG_FORMATS:
        found.append(make_problem("not-jpeg", f"{path}: is {info.format}, not JPEG", path, fid))
    if (width, height) != (TARGET_SIZE, TARGET_SIZE):
        found.append(make_problem("not-512", f"{path}: is {width}x{height}, not 512x512", path, fid))
    if max(width, height) < TARGET_SIZE:
        found.append(
            make_problem("too-small", f"{path}: long side {max(width, height)} px is under 512 and will be upscaled", path, fid)
        )
    if info.has_alpha:
        found.append(
            make_problem("transparency", f"{path}: has transparency ({info.mode}); kohya would fill it with black", path, fid)
        )
    elif info.mode != "RGB":
        found.append(make_problem("bad-mode", f"{path}: colour mode {info.mode}, not 8-bit RGB", path, fid))
    if info.orientation != 1:
        found.append(
            make_problem("exif-rotation", f"{path}: EXIF orientation {info.orientation} is not applied to the pixels", path, fid)
        )
    return found


def _caption_problems(path: Path, caption: CaptionText | None, pattern: re.Pattern[str], friend: Friend) -> list[Problem]:
    caption_path = path.with_suffix(CAPTION_SUFFIX)
    fid = friend.id
    if caption is None:
        return [make_problem("no-caption", f"{path}: has no caption file {caption_path.name}", path, fid)]
    if caption.error is not None:
        return [make_problem("caption-not-utf8", f"{caption_path}: not UTF-8 text ({caption.error})", caption_path, fid)]
    first_line = caption.first_line
    if not first_line:
        return [make_problem("empty-caption", f"{caption_path}: the caption is empty", caption_path, fid)]
    match = pattern.search(first_line)
    if match is None:
        return [
            make_problem(
                "token-missing", f"{caption_path}: the caption lacks the trigger token {friend.token}", caption_path, fid
            )
        ]
    if match.start() != 0:
        return [
            make_problem("token-not-first", f"{caption_path}: the caption does not start with {friend.token}", caption_path, fid)
        ]
    return []


def _clash_problems(folder: Path, name: str, same_stem: list[str], fid: str) -> list[Problem]:
    if len(same_stem) < 2:
        return []
    others = ", ".join(other for other in same_stem if other != name)
    return [
        make_problem(
            "stem-clash",
            f"{folder / name}: shares its name with {others}; one caption would serve both and conversion would collapse them",
            folder / name,
            fid,
        )
    ]


def _outside_captions(listing: Listing, stems: dict[str, list[str]]) -> dict[str, str]:
    """The photos' captions that link out of the datasets folder: photo stem -> caption name."""
    found: dict[str, str] = {}
    for name in listing.outside:
        stem, suffix = os.path.splitext(name)
        if suffix.lower() == CAPTION_SUFFIX and stem in stems:
            found[stem] = name
    return found


def _loose_file_problems(
    folder: Path, listing: Listing, stems: dict[str, list[str]], fid: str, on_rows: set[str]
) -> list[Problem]:
    found = [
        make_problem("orphan-caption", f"{folder / name}: a caption without a photo named {stem}.*", folder / name, fid)
        for stem, (name, _key) in sorted(listing.captions.items())
        if stem not in stems
    ]
    found += [
        make_problem("unsupported-type", f"{folder / name}: not an image qbtui or kohya can use", folder / name, fid)
        for name in listing.others
    ]
    found += [
        make_problem("broken-link", f"{folder / name}: cannot be opened: {reason}", folder / name, fid)
        for name, reason in listing.broken
    ]
    found += [
        make_problem(
            "not-a-file", f"{folder / name}: is {_what_it_is(folder / name)}, not a photo or caption file", folder / name, fid
        )
        for name in listing.folders
    ]
    found += [link_outside_problem(folder / name, fid) for name in listing.outside if name not in on_rows]
    return found


CAPTION_LINK_FIX = (
    "replace the link with a real file: copy the text in (`cp --remove-destination TARGET LINK`) or write a new caption;"
    " qbtui never reads or writes a caption through a link out of the datasets folder"
)


def link_outside_problem(path: Path, friend_id: str) -> Problem:
    """The `link-outside` problem of the link `path` (a caption's fix says to replace the link with a real file)."""
    fix = CAPTION_LINK_FIX if path.suffix.lower() == CAPTION_SUFFIX else None
    return make_problem(
        "link-outside", f"{path}: links to {path.resolve()}, outside the datasets folder", path, friend_id, fix=fix
    )


def links_outside(path: Path, boundary: Path) -> bool:
    """True when `path` is a link that resolves outside `boundary` (resolved), or nowhere: the rule of `list_folder`."""
    return path.is_symlink() and not _resolves_inside(path, boundary)


def _count_problems(folder: Path, count: int, fid: str) -> list[Problem]:
    if count < MIN_IMAGES:
        return [
            make_problem("too-few-images", f"{folder}: {count} photos, the guide asks for at least {MIN_IMAGES}", folder, fid)
        ]
    if count > MAX_IMAGES:
        return [
            make_problem("too-many-images", f"{folder}: {count} photos, the guide suggests at most {MAX_IMAGES}", folder, fid)
        ]
    return []


def _near_duplicates(
    folder: Path, listing: Listing, infos: dict[str, ImageInfo], facts: FileFacts, compute: bool
) -> dict[str, str]:
    """Each image that looks like an earlier one, mapped to that earlier one's name."""
    from qbtui.dataset.phash import fingerprint

    readable = [(name, key) for name, key in listing.images if infos[name].readable]
    if compute:
        missing = [(name, key) for name, key in readable if not facts.has(name, key, "fingerprint")]
        if len(missing) >= PARALLEL_FINGERPRINTS:
            halves = [missing[0::2], missing[1::2]]
            with ThreadPoolExecutor(max_workers=2) as pool:
                for half, marks in zip(
                    halves, pool.map(lambda items: [fingerprint(folder / name) for name, _ in items], halves), strict=True
                ):
                    for (name, key), mark in zip(half, marks, strict=True):
                        facts.put(name, key, "fingerprint", mark)
        prints = [(name, facts.get(name, key, "fingerprint", partial(fingerprint, folder / name))) for name, key in readable]
    else:
        prints = [(name, cast("Fingerprint | None", facts.peek(name, key, "fingerprint"))) for name, key in readable]
    duplicates: dict[str, str] = {}
    for index, (name, mark) in enumerate(prints):
        if mark is None:
            continue
        for earlier, earlier_mark in prints[:index]:
            if earlier_mark is not None and earlier not in duplicates and mark.close_to(earlier_mark):
                duplicates[name] = earlier
                break
    return duplicates
