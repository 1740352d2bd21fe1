"""The registry's types: settings, presets, friends, trainings, and what names are valid.

Plain frozen dataclasses shared by every layer; `qbtui.registry` re-exports them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from qbtui.errors import QbtuiError

# Re-exported: what a new name becomes lives in qbtui.friend_names.
from qbtui.friend_names import (
    check_friend_name as check_friend_name,
    default_token as default_token,
    friend_id_for as friend_id_for,
)
from qbtui.likeness.live import STOP_EARLY_MARGIN, STOP_EARLY_PATIENCE

FlagValue = str | int | float | bool
DEFAULT_NEGATIVE_PROMPT = "lowres, blurry, bad anatomy, bad hands, extra fingers, deformed face, watermark, text, signature"
DRAW_SAMPLERS = ("Euler a", "Euler", "DPM++ 2M", "DDIM")
# The trainers a run can use: qbtui's own (the default) and kohya's sd-scripts (qbtui.runs.backends).
BACKENDS = ("builtin", "kohya")

DEFAULT_EVAL_PROMPTS = (
    "a photo of {token} person",
    "close-up portrait photo of {token} person, looking at the camera",
)


class RegistryError(QbtuiError):
    """registry.toml is unreadable, invalid, or an edit to it was refused."""


@dataclass(frozen=True)
class Settings:
    """Paths and defaults from `[settings]`, with paths already resolved."""

    datasets_dir: Path
    lora_dir: Path
    logs_dir: Path
    base_model: Path
    style_suffix: str = "illustration in the style of Quentin Blake, watercolor, whimsical"
    lora_weight: float = 0.8
    backend: str = "builtin"
    preset: str = "standard"
    kohya_scripts: Path = field(default_factory=lambda: Path("~/sd-scripts").expanduser())
    kohya_accelerate: Path = field(default_factory=lambda: Path("~/sd-train-venv/bin/accelerate").expanduser())
    kohya_sdpa: bool = True
    theme: str = "paper-and-ink"
    image_protocol: str = "auto"
    device: str = "auto"
    tokenizer: Path | None = None
    tokenizer_cache_dir: Path | None = None  # kohya's --tokenizer_cache_dir
    comfyui_dir: Path | None = None  # a ComfyUI install (its comfy/sd1_tokenizer/ holds the CLIP tokenizer)
    host: str = ""  # the default [hosts.<name>] to train on; "" trains on this machine
    prep_mode: str = "face"
    drawings_dir: Path | None = None
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    draw_sampler: str = "Euler a"
    guidance_scale: float = 7.0
    draw_steps: int = 30

    eval_prompts: tuple[str, ...] = DEFAULT_EVAL_PROMPTS
    eval_seeds: int = 2
    eval_seed: int = 1000
    eval_steps: int = 12
    eval_min_face_rate: float = 0.7
    eval_after_training: bool = True  # score likeness while training (kohya runs: a pass after it)
    stop_early: bool = False  # end a run once its likeness stops improving under the same-person threshold
    stop_early_patience: int = STOP_EARLY_PATIENCE  # checkpoints without a better likeness
    stop_early_margin: float = STOP_EARLY_MARGIN  # "better" means by more than this (dlib's wobble)

    @property
    def drawings_folder(self) -> Path:
        """Where `qbtui draw` writes: `drawings_dir`, else `drawings/` beside the LoRA folder."""
        return self.drawings_dir or self.lora_dir.parent / "drawings"


@dataclass(frozen=True)
class Preset:
    """A named set of training flags, named as kohya's train_network.py names them."""

    name: str
    flags: dict[str, FlagValue] = field(default_factory=dict)

    @property
    def max_train_steps(self) -> int:
        return int(self.flags.get("max_train_steps", 1200))

    @property
    def network_dim(self) -> int:
        return int(self.flags.get("network_dim", 16))

    @property
    def network_alpha(self) -> float:
        return float(self.flags.get("network_alpha", 8))

    @property
    def mixed_precision(self) -> str:
        return str(self.flags.get("mixed_precision", "no"))

    @property
    def save_every_n_steps(self) -> int | None:
        value = self.flags.get("save_every_n_steps")
        return int(value) if value is not None else None


@dataclass(frozen=True)
class Training:
    """One finished training of a friend, as the guide's registry table records it."""

    date: str
    steps: int
    images: int
    preset: str = ""
    backend: str = ""
    lora_file: str = ""
    notes: str = ""
    run_id: str = ""
    chosen_lora: str = ""
    chosen_weight: float | None = None
    chosen_sample: str = ""
    likeness: float | None = None
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Friend:
    """A friend whose LoRA qbtui trains."""

    id: str
    name: str
    token: str
    repeats: int = 30
    describe: str = ""
    notes: str = ""
    trainings: tuple[Training, ...] = ()

    @property
    def output_name(self) -> str:
        """The LoRA file stem the guide uses: `qb_peter_lora`."""
        return f"{self.token}_lora"

    @property
    def trigger_phrase(self) -> str:
        """The phrase that calls the friend up: `qb_peter person`; the captions start with it, and the LoRA's
        header (`modelspec.trigger_phrase`), its A1111 card and its LoRA Manager sidecar all say it."""
        return f"{self.token} person"

    @property
    def caption_template(self) -> str:
        """The guide's starting caption: `qb_peter person, man, curly hair`."""
        return f"{self.trigger_phrase}, {self.describe}" if self.describe else self.trigger_phrase

    @property
    def last_training(self) -> Training | None:
        """The most recent training by date (the later entry on a tie), or None."""
        if not self.trainings:
            return None
        return max(enumerate(self.trainings), key=lambda pair: (pair[1].date, pair[0]))[1]

    @property
    def chosen_weight(self) -> float | None:
        """The LoRA weight the likeness evaluation chose for the latest training, or None."""
        training = self.last_training
        return training.chosen_weight if training else None

    @property
    def lora_name(self) -> str:
        """The LoRA file stem A1111 loads: the latest training's chosen file, else `qb_peter_lora`."""
        training = self.last_training
        if training and training.chosen_lora and training.chosen_weight is not None:
            return Path(training.chosen_lora).stem
        return self.output_name


# ---------------------------------------------------------------- numbers

# A LoRA weight in a prompt, a drawing or an evaluation: above 0 and at most 2. A1111 takes any
# number, but a character LoRA at 0 draws no one, below 0 draws away from the friend, and above
# about 1.5 burns the picture; the guide uses 0.6 to 1.0.
LORA_WEIGHT_MAX = 2.0
LORA_WEIGHT_FIX = "use a weight above 0 and at most 2; the guide suggests 0.6 to 1.0"


# Whole-number training flags and their smallest usable value, with the fix: one definition for the
# registry's presets (registry.schema) and a run's config (trainer.config.TrainConfig.validate).
FLAG_MINIMUMS: dict[str, tuple[int, str]] = {
    "network_dim": (1, "use a positive rank such as 16"),
    "max_train_steps": (1, "use a positive step count such as 1200"),
    "train_batch_size": (1, "use 1 (the guide's setting) or more"),
    "num_processes": (1, "use 1, or the number of GPUs to train on at once"),
    "lr_warmup_steps": (0, "use 0 or more"),
    "save_every_n_steps": (0, "use 0 (only the final file) or a step count"),
    "sample_every_n_steps": (0, "use 0 (no samples during training) or more"),
    "sample_steps": (1, "use a positive number of denoising steps such as 20"),
    "max_data_loader_n_workers": (0, "use 0 or more"),
}


def range_problem(value: object, low: float, high: float, *, above_low: bool = False) -> str | None:
    """Why `value` is not a finite number from `low` to `high` (above `low` when `above_low`), or None."""
    lowest = f"above {low:g}" if above_low else f"from {low:g}"
    wanted = f"a number {lowest} {'and at most' if above_low else 'to'} {high:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be {wanted}, found {value!r}"
    if value > high or value < low or (above_low and value == low):
        return f"must be {wanted}, found {value:g}"
    return None


def lora_weight_problem(weight: object) -> str | None:
    """Why `weight` is not a usable LoRA weight (see LORA_WEIGHT_MAX), or None."""
    return range_problem(weight, 0, LORA_WEIGHT_MAX, above_low=True)


# A photo's caption: the same stem with this suffix, beside it (kohya's `caption_extension`).
CAPTION_SUFFIX = ".txt"


def friend_root(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>`: the friend's folder, parent of the training folder."""
    return settings.datasets_dir / friend.id


def dataset_dir(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>/<repeats>_<id>`: the folder kohya trains on."""
    return friend_root(settings, friend) / f"{friend.repeats}_{friend.id}"


def originals_dir(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>/originals`: where preparation keeps the photos it replaced."""
    return friend_root(settings, friend) / "originals"


# ---------------------------------------------------------------- names

FRIEND_ID_PATTERN = re.compile(r"^[^\W_][\w-]*$")
TOKEN_PATTERN = re.compile(r"^[^\W_]?[\w-]+$")
DEFAULT_REPEATS = 30


def check_friend_id(friend_id: str) -> str | None:
    """Why `friend_id` is not usable as a registry key and folder name, or None."""
    if not FRIEND_ID_PATTERN.match(friend_id) or friend_id != friend_id.lower():
        return (
            f"friend id {friend_id!r} must be one lowercase word of letters, digits, '_' or '-', "
            "starting with a letter or digit (it names the dataset folder)"
        )
    return None


def check_token(token: str) -> str | None:
    """Why `token` cannot be a trigger token, or None."""
    if not TOKEN_PATTERN.match(token):
        return f"token {token!r} must be one word of letters, digits, '_' or '-' (e.g. qb_peter)"
    return None
