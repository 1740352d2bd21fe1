"""`qbtui demo`: a self-contained workspace that shows every status the app knows.

Built offline in seconds: a registry with relative paths, three friends with portraits
shaded with numpy so that the face checks find their faces (one ready to train, one with
a problem of every kind the scanner and the face checks report, one with too few
photos), and a tiny SD1.5-shaped base model written by
`python -m qbtui.trainer.tiny` in a subprocess (this process never imports torch).
The workspace is assembled in a hidden sibling folder and moved into place at the end,
so an interrupted build leaves nothing half-made under the demo's name.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFilter

from qbtui import locations
from qbtui.demo_portraits import Look, draw_group, draw_portrait
from qbtui.errors import QbtuiError

MARKER = ".qbtui-demo"
MODEL_SUBDIR = Path("models") / "tiny-sd15"
READY_COUNT = 24
FEW_COUNT = 8
MODEL_TIMEOUT_S = 600

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoFriend:
    id: str
    name: str
    describe: str
    notes: str
    look: Look

    @property
    def token(self) -> str:
        return f"qb_{self.id}"

    def caption(self) -> str:
        return f"{self.token} person, {self.describe}"


ADA = DemoFriend(
    "ada",
    "Ada",
    "woman, short red hair, round glasses, friendly smile",
    "Ready to train: 24 clean 512x512 photos with captions",
    Look(
        skin=(244, 208, 180),
        hair=(196, 78, 32),
        glasses=True,
        lips=(200, 80, 90),
        face_length=1.5,
        eye_spacing=0.33,
        brow=0.35,
        brow_thickness=0.025,
        nose_width=0.08,
        nose_length=0.25,
        mouth_drop=0.46,
    ),
)
BEN = DemoFriend(
    "ben",
    "Ben",
    "man, short brown hair, full beard, thick eyebrows",
    "A photo dump straight off a phone: a problem of every kind to fix",
    Look(
        skin=(205, 160, 120),
        hair=(70, 45, 25),
        beard=True,
        face_length=1.25,
        jaw_taper=0.05,
        eye_spacing=0.43,
        eye_height=0.16,
        brow=1.0,
        brow_thickness=0.065,
        nose_width=0.14,
        nose_length=0.34,
        mouth_drop=0.6,
    ),
)
CLEO = DemoFriend(
    "cleo",
    "Cleo",
    "woman, long black hair, warm smile",
    "Only a few photos so far: add more before training",
    Look(
        skin=(165, 112, 80),
        hair=(24, 20, 22),
        long_hair=True,
        lips=(140, 60, 70),
        face_length=1.5,
        jaw_taper=0.3,
        eye_spacing=0.37,
        eye_height=0.18,
        eye_width=0.13,
        nose_width=0.11,
    ),
)
# Not a friend: the someone else in Ben's folder (alone, and beside Ben in a group photo).
# The face descriptor puts this look over 0.6 from Ben's, so the face checks tell them apart.
STRANGER = Look(
    skin=(250, 222, 200),
    hair=(225, 195, 120),
    glasses=True,
    long_hair=True,
    lips=(200, 80, 90),
    face_length=1.5,
    eye_spacing=0.3,
    eye_height=0.0,
    brow=0.3,
    brow_thickness=0.025,
    nose_width=0.08,
    nose_length=0.2,
    mouth_drop=0.38,
)
DEMO_FRIENDS = (ADA, BEN, CLEO)

DEMO_PRESET = """\
[presets.demo]
# Tiny and fast: trains the demo's tiny model on this CPU in well under a minute
caption_extension = ".txt"
resolution = "64,64"
network_module = "networks.lora"
network_dim = 4
network_alpha = 2
learning_rate = 1e-3
text_encoder_lr = 5e-4
optimizer_type = "AdamW"
lr_scheduler = "cosine"
max_train_steps = 60
train_batch_size = 1
mixed_precision = "no"
save_every_n_steps = 20
save_model_as = "safetensors"
sample_every_n_steps = 30
sample_steps = 8

"""

SETTINGS = """\
# qbtui demo workspace: a registry of its own. Paths are relative to this file's folder.
# Rebuild it with `qbtui demo --force`; open it with `qbtui --registry {registry}`.

[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
# A tiny randomly initialised SD1.5-shaped model (diffusers folder): it trains fast, draws noise
base_model = "{model}"
style_suffix = "illustration in the style of Quentin Blake, watercolor, whimsical"
lora_weight = 0.8
backend = "builtin"
preset = "demo"
kohya_scripts = "~/sd-scripts"
kohya_accelerate = "~/sd-train-venv/bin/accelerate"
kohya_sdpa = true
theme = "paper-and-ink"
image_protocol = "auto"
device = "auto"
# `qbtui draw` on the tiny model: a few steps are enough to see the LoRA at work
draw_steps = 8

"""


def _guide_presets_text() -> str:
    """The starter registry's presets section, comments included."""
    starter = locations.STARTER_REGISTRY.read_text(encoding="utf-8")
    start = starter.index("# Presets hold")
    end = starter.index("# One table per friend")
    return starter[start:end]


def demo_registry_text() -> str:
    """The demo's registry.toml: relative paths, the guide's presets plus `demo`, three friends."""
    friends = "".join(
        f'[friends.{friend.id}]\nname = "{friend.name}"\ntoken = "{friend.token}"\nrepeats = 30\n'
        f'describe = "{friend.describe}"\nnotes = "{friend.notes}"\n\n'
        for friend in DEMO_FRIENDS
    )
    settings = SETTINGS.format(registry=locations.REGISTRY_FILENAME, model=MODEL_SUBDIR.as_posix())
    return settings + _guide_presets_text() + DEMO_PRESET + friends.rstrip("\n") + "\n"


def _training_folder(root: Path, friend: DemoFriend) -> Path:
    folder = root / "datasets" / friend.id / f"30_{friend.id}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_clean_photos(folder: Path, friend: DemoFriend, count: int, first_seed: int) -> None:
    for index in range(count):
        stem = f"{friend.id}_{index + 1:02d}"
        draw_portrait(friend.look, first_seed + index).save(folder / f"{stem}.jpg", quality=88)
        (folder / f"{stem}.txt").write_text(friend.caption() + "\n", encoding="utf-8")


def _write_problem_photos(folder: Path, friend: DemoFriend) -> None:
    """Clean photos plus one file for each problem the scanner knows."""
    _write_clean_photos(folder, friend, 12, 210)
    look, caption = friend.look, friend.caption()

    def caption_for(stem: str, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (folder / f"{stem}.txt").write_bytes(data)

    draw_portrait(look, 301, (800, 600)).save(folder / "holiday_landscape.jpg", quality=85)
    caption_for("holiday_landscape", caption + ", beach")
    draw_portrait(look, 302, (600, 900)).save(folder / "phone_portrait.png")
    caption_for("phone_portrait", caption)
    cutout = draw_portrait(look, 303).convert("RGBA")
    cutout.putalpha(cutout.getchannel("R").point(lambda value: 0 if value > 200 else 255))
    cutout.save(folder / "cutout.png")
    caption_for("cutout", caption)
    sideways = draw_portrait(look, 304, (640, 480))
    exif = sideways.getexif()
    exif[0x0112] = 6
    sideways.save(folder / "sideways.jpg", exif=exif, quality=85)
    caption_for("sideways", caption)
    draw_portrait(look, 305, (200, 200)).save(folder / "tiny_thumbnail.jpg", quality=85)
    caption_for("tiny_thumbnail", caption)
    draw_portrait(look, 306).convert("L").save(folder / "black_and_white.jpg", quality=85)
    caption_for("black_and_white", caption + ", black and white")
    draw_portrait(look, 307).save(folder / "no_caption.jpg", quality=85)
    draw_portrait(look, 308).save(folder / "empty_caption.jpg", quality=85)
    caption_for("empty_caption", "")
    draw_portrait(look, 309).save(folder / "forgot_token.jpg", quality=85)
    caption_for("forgot_token", f"person, {friend.describe}")
    draw_portrait(look, 310).save(folder / "token_later.jpg", quality=85)
    caption_for("token_later", f"smiling {friend.token} person, glasses")
    draw_portrait(look, 311).save(folder / "latin1_caption.jpg", quality=85)
    caption_for("latin1_caption", f"{friend.token} person, caf\xe9".encode("latin-1"))
    shutil.copyfile(folder / f"{friend.id}_01.jpg", folder / "copy_of_first.jpg")
    caption_for("copy_of_first", caption)
    draw_portrait(look, 312).save(folder / "twin.jpg", quality=85)
    draw_portrait(look, 313).save(folder / "twin.png")
    caption_for("twin", caption)
    _write_face_problem_photos(folder, friend)
    (folder / "empty.jpg").write_bytes(b"")
    caption_for("empty", caption)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this download stopped halfway")
    caption_for("broken", caption)
    caption_for("deleted_photo", caption)
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4\n% not a photo\n")


def _write_face_problem_photos(folder: Path, friend: DemoFriend) -> None:
    """Photos whose only problem is the face: someone else, a group, a blurred and a dark face."""
    caption = friend.caption()
    draw_portrait(STRANGER, 338).save(folder / "someone_else.jpg", quality=88)
    draw_group((friend.look, STRANGER), 321).save(folder / "group_photo.jpg", quality=88)
    draw_portrait(friend.look, 322).filter(ImageFilter.GaussianBlur(4)).save(folder / "blurred.jpg", quality=88)
    draw_portrait(friend.look, 323).point(lambda value: value // 4).save(folder / "too_dark.jpg", quality=88)
    for stem in ("someone_else", "group_photo", "blurred", "too_dark"):
        (folder / f"{stem}.txt").write_text(caption + "\n", encoding="utf-8")


def _write_workspace(root: Path) -> None:
    (root / "loras").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / locations.REGISTRY_FILENAME).write_text(demo_registry_text(), encoding="utf-8")
    _write_clean_photos(_training_folder(root, ADA), ADA, READY_COUNT, 0)
    _write_problem_photos(_training_folder(root, BEN), BEN)
    _write_clean_photos(_training_folder(root, CLEO), CLEO, FEW_COUNT, 100)


def build_tiny_model(target: Path) -> None:
    """Run `python -m qbtui.trainer.tiny TARGET` (torch loads in that process only)."""
    command = [sys.executable, "-m", "qbtui.trainer.tiny", str(target)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=MODEL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise QbtuiError(
            f"building the tiny model took over {MODEL_TIMEOUT_S} s",
            path=target,
            fix="run `qbtui demo` again when the machine is less busy",
        ) from None
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise QbtuiError(
            f"building the tiny model failed:\n{tail}",
            path=target,
            fix="check that torch and diffusers are installed (`scripts/setup`), then run `qbtui demo` again",
        )


def is_demo(folder: Path) -> bool:
    """True when `folder` is a workspace this module built."""
    return (folder / MARKER).is_file()


def build_demo(folder: Path, *, force: bool = False, with_model: bool = True, progress: Progress | None = None) -> Path:
    """Build (or reuse) the demo workspace in `folder`; returns its registry path.

    An existing demo is reused (its model is rebuilt if missing) unless `force`; a folder
    that holds anything else is refused, never overwritten.
    """
    say = progress or (lambda message: None)
    folder = Path(folder).expanduser().absolute()
    registry = folder / locations.REGISTRY_FILENAME
    if folder.exists() and not is_demo(folder) and any(folder.iterdir()):
        raise QbtuiError(
            "this folder is not empty and is not a qbtui demo; refusing to write into it",
            path=folder,
            fix="pass an empty or new folder: `qbtui demo DIR`",
        )
    if is_demo(folder) and not force:
        if with_model and not (folder / MODEL_SUBDIR).is_dir():
            say(f"building the tiny base model in {folder / MODEL_SUBDIR} ...")
            build_tiny_model(folder / MODEL_SUBDIR)
        return registry
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.building-{secrets.token_hex(3)}")
    try:
        say(f"drawing demo photos in {folder} ...")
        _write_workspace(staging)
        if with_model:
            say("building the tiny base model (a few seconds) ...")
            build_tiny_model(staging / MODEL_SUBDIR)
        (staging / MARKER).write_text("Built by `qbtui demo`; `qbtui demo --force` replaces this folder.\n", encoding="utf-8")
        _swap_into_place(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"demo ready: {registry}")
    return registry


def _swap_into_place(staging: Path, folder: Path) -> None:
    """Put `staging` at `folder`; an old demo there is moved aside first, then removed."""
    old = None
    if folder.exists():
        if is_demo(folder):
            old = folder.with_name(f".{folder.name}.old-{secrets.token_hex(3)}")
            os.replace(folder, old)
        else:
            folder.rmdir()
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
