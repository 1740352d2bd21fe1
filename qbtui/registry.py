"""Typed view of registry.toml, the single source of truth.

TYPES ONLY FOR NOW: the foundation work (issue 3) adds loading, validation, locking
and atomic comment-preserving saves behind these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FlagValue = str | int | float | bool


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
    kohya_scripts: Path = Path("~/sd-scripts").expanduser()
    kohya_accelerate: Path = Path("~/sd-train-venv/bin/accelerate").expanduser()
    kohya_sdpa: bool = True
    theme: str = "paper-and-ink"
    image_protocol: str = "auto"
    device: str = "auto"
    tokenizer: Path | None = None


@dataclass(frozen=True)
class Preset:
    """A named set of training flags, named as kohya's train_network.py names them."""

    name: str
    flags: dict[str, FlagValue] = field(default_factory=dict)

    @property
    def max_train_steps(self) -> int:
        return int(self.flags.get("max_train_steps", 1200))


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
    def caption_template(self) -> str:
        """The guide's starting caption: `qb_peter person, man, curly hair`."""
        return f"{self.token} person, {self.describe}" if self.describe else f"{self.token} person"


def friend_root(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>`: the friend's folder, parent of the training folder."""
    return settings.datasets_dir / friend.id


def dataset_dir(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>/<repeats>_<id>`: the folder kohya trains on."""
    return friend_root(settings, friend) / f"{friend.repeats}_{friend.id}"


def originals_dir(settings: Settings, friend: Friend) -> Path:
    """`<datasets_dir>/<id>/originals`: where preparation keeps the photos it replaced."""
    return friend_root(settings, friend) / "originals"
