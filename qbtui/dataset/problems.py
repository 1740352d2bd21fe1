"""The problems a dataset can have: stable codes, what qbtui can do, how serious.

Severity policy: "error" means training on the folder as it is would fail or teach
the LoRA the wrong thing (sideways faces, black backgrounds, missing trigger token,
an empty folder); "warning" means it trains but the guide's advice is not followed
(a caption whose token is not first, an upscaled small photo, near-duplicates,
more than 50 photos, a stray file kohya ignores).

Actions name the fix qbtui can apply itself:
  "prep"              prepare_friend: orient, flatten, convert, crop around the face
                      (or letterbox) to a 512 JPEG
  "caption-init"      init_captions: write the friend's caption template
  "token-first"       token_first: put the trigger token at the start
  "move-to-originals" move_to_originals: move the file out of the training folder
  "add-folder"        create the training folder
  "re-encode"         reencode_caption: rewrite a non-UTF-8 caption as UTF-8 (original kept)
  None                the user must act (edit a file, rename a folder, add photos)

Codes are for scripts (`--json`); people read `label` (a few plain words, short enough
for a list row) and `ACTION_WORDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR = "error"
WARNING = "warning"

MIN_IMAGES = 20
MAX_IMAGES = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset, with the fix in words and the action qbtui can apply."""

    code: str
    message: str
    fix: str
    action: str | None
    path: Path | None
    severity: str

    @property
    def label(self) -> str:
        """The problem in a few plain words: `not a JPEG`."""
        return label_of(self.code)

    @property
    def detail(self) -> str:
        """The message without the leading `<path>: `, for screens that show the file already."""
        prefix = f"{self.path}: "
        return self.message[len(prefix) :] if self.path is not None and self.message.startswith(prefix) else self.message


@dataclass(frozen=True)
class ProblemKind:
    """The catalogue entry of a problem code: severity, action and the fix in words."""

    severity: str
    action: str | None
    fix: str
    label: str = ""


ACTION_WORDS: dict[str, str] = {
    "prep": "prepare it as a 512x512 JPEG (original kept)",
    "caption-init": "write the caption template",
    "token-first": "put the trigger token first",
    "move-to-originals": "move it to originals/",
    "add-folder": "create the training folder",
    "re-encode": "re-encode the caption as UTF-8 (original kept)",
}


def label_of(code: str) -> str:
    """The problem in a few plain words (`not a JPEG`); codes without a label read as words."""
    kind = CATALOGUE.get(code)
    return kind.label if kind is not None and kind.label else code.replace("-", " ")


CATALOGUE: dict[str, ProblemKind] = {
    "not-512": ProblemKind(
        ERROR,
        "prep",
        "run `qbtui prep {friend}` to make it 512x512 (cropped around the face, or letterboxed)",
        label="not 512x512",
    ),
    "not-jpeg": ProblemKind(
        ERROR, "prep", "run `qbtui prep {friend}` to convert it to a JPEG (the original is kept)", label="not a JPEG"
    ),
    "no-caption": ProblemKind(
        ERROR, "caption-init", "run `qbtui captions {friend} --init` or write a .txt with the same name", label="no caption"
    ),
    "empty-caption": ProblemKind(
        ERROR, "caption-init", "run `qbtui captions {friend} --init` or write the caption", label="empty caption"
    ),
    "token-missing": ProblemKind(
        ERROR, "token-first", "run `qbtui captions {friend} --token-first` to add the trigger token", label="token missing"
    ),
    "token-not-first": ProblemKind(
        WARNING,
        "token-first",
        "run `qbtui captions {friend} --token-first` to move the token to the start",
        label="token not first",
    ),
    "caption-not-utf8": ProblemKind(
        ERROR,
        "re-encode",
        "run `qbtui captions {friend} --reencode` (the original is kept in originals/), or re-save it as UTF-8",
        label="caption not UTF-8",
    ),
    "unreadable": ProblemKind(
        ERROR, "move-to-originals", "re-export the photo, or move it out of the training folder", label="unreadable"
    ),
    "zero-bytes": ProblemKind(ERROR, "move-to-originals", "copy the photo again, or move the empty file out", label="empty file"),
    "bad-mode": ProblemKind(ERROR, "prep", "run `qbtui prep {friend}` to convert it to 8-bit sRGB RGB", label="not RGB colour"),
    "transparency": ProblemKind(ERROR, "prep", "run `qbtui prep {friend}` to flatten it onto white", label="transparent"),
    "exif-rotation": ProblemKind(
        ERROR, "prep", "run `qbtui prep {friend}` to apply the EXIF orientation (kohya ignores it)", label="sideways (EXIF)"
    ),
    "too-small": ProblemKind(
        WARNING, "prep", "use a larger photo if you have one; `qbtui prep {friend}` upscales this one", label="small photo"
    ),
    "near-duplicate": ProblemKind(
        WARNING, "move-to-originals", "keep the best of the similar photos and move the others out", label="near duplicate"
    ),
    "stem-clash": ProblemKind(
        ERROR, "prep", "run `qbtui prep {friend}`: it gives the second photo its own name", label="name clash"
    ),
    "orphan-caption": ProblemKind(
        WARNING, "move-to-originals", "rename it to match its photo, or move it out", label="caption, no photo"
    ),
    "unsupported-type": ProblemKind(
        WARNING, "move-to-originals", "move it out of the training folder (kohya ignores it)", label="not an image"
    ),
    "too-few-images": ProblemKind(
        ERROR, None, f"add photos: the guide asks for {MIN_IMAGES} to {MAX_IMAGES}", label="too few photos"
    ),
    "too-many-images": ProblemKind(
        WARNING, None, f"keep the best {MAX_IMAGES} and move the rest to originals/; more rarely helps", label="too many photos"
    ),
    "folder-missing": ProblemKind(
        ERROR, "add-folder", "create the folder and copy the friend's photos into it", label="no folder"
    ),
    "repeats-mismatch": ProblemKind(
        ERROR, None, "rename the folder to the registry's repeats, or change repeats in registry.toml", label="repeats differ"
    ),
    "broken-link": ProblemKind(ERROR, None, "remove the link, or point it at a real photo (a loop or a missing target)"),
    "not-a-file": ProblemKind(ERROR, None, "rename it or move it out of the training folder: only files can be photos"),
    "link-outside": ProblemKind(
        ERROR, None, "copy the photo into the training folder instead of linking it (`cp -L LINK COPY`), then remove the link"
    ),
    "folder-outside": ProblemKind(
        ERROR,
        None,
        "copy the photos into a real folder under the datasets folder (`cp -rL LINK COPY`) instead of linking it;"
        " qbtui never moves or writes files outside the datasets folder",
    ),
    "decompression-bomb": ProblemKind(
        ERROR, None, "export the photo at a sensible size (under 8000x8000 pixels) and replace it; prep will not open it"
    ),
    "bad-journal": ProblemKind(
        WARNING,
        None,
        "this is not a journal qbtui wrote; it was left alone: delete it if no prep of yours was interrupted",
    ),
    "name-too-long": ProblemKind(
        ERROR, None, "shorten the friend's id and token in registry.toml (and rename the folder to match)"
    ),
    "folder-unwritable": ProblemKind(ERROR, None, "make the folder writable (`chmod u+w FOLDER`), then try again"),
    # face checks (qbtui/dataset/face_checks.py)
    "no-face": ProblemKind(
        WARNING,
        "move-to-originals",
        "use a photo where the face shows clearly, or move this one out",
        label="no face found",
    ),
    "few-faces-found": ProblemKind(
        WARNING, None, "add photos of the friend where the face shows clearly", label="faces rarely found"
    ),
    "several-faces": ProblemKind(
        WARNING,
        None,
        "crop the photo to the friend, or move it out: prep frames the face that looks most like them",
        label="several faces",
    ),
    "face-too-small": ProblemKind(
        WARNING, "move-to-originals", "use a closer photo of the face, or move this one out", label="face too small"
    ),
    "other-person": ProblemKind(
        ERROR, "move-to-originals", "move it out of the training folder if it is someone else", label="someone else?"
    ),
    "face-blurred": ProblemKind(WARNING, "move-to-originals", "use a sharper photo, or move this one out", label="face blurred"),
    "face-too-dark": ProblemKind(
        WARNING, "move-to-originals", "use a better-lit photo, or move this one out", label="face too dark"
    ),
    "face-too-bright": ProblemKind(
        WARNING, "move-to-originals", "use a photo where the face is not washed out, or move it out", label="face too bright"
    ),
    "crop-upscaled": ProblemKind(
        WARNING, None, "use a larger photo if you have one: under 512 px the face crop is upscaled", label="face crop upscaled"
    ),
    "pose-mix": ProblemKind(
        WARNING, None, "add photos from other angles: the guide asks for front, 3/4 and profile", label="few angles"
    ),
    "few-front-faces": ProblemKind(
        WARNING,
        None,
        "add front-facing photos: the guide's first fix when results don't look like the person",
        label="few front faces",
    ),
}


def make_problem(code: str, message: str, path: Path | None, friend_id: str, *, fix: str | None = None) -> Problem:
    """A Problem for a catalogued code; `fix` overrides the catalogue's wording."""
    kind = CATALOGUE[code]
    return Problem(code, message, fix or kind.fix.format(friend=friend_id), kind.action, path, kind.severity)
