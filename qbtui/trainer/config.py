"""TrainConfig: one training run's settings, named as kohya's train_network.py flags.

Plain data only (no torch): the runs layer builds it from a preset, writes it into
`run.toml` as the `[train]` table, and the trainer subprocess reads it back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qbtui.errors import QbtuiError
from qbtui.likeness.live import STOP_EARLY_MARGIN, STOP_EARLY_PATIENCE
from qbtui.registry import CAPTION_SUFFIX, FLAG_MINIMUMS, FlagValue, Friend, Preset, Settings, friend_root

# The LoRA weights a sample (and a likeness evaluation) is drawn at unless a run says otherwise.
SAMPLE_WEIGHTS = (0.6, 0.8, 1.0)

MIXED_PRECISIONS = ("no", "fp16", "bf16")
OPTIMIZERS = ("AdamW",)
LR_SCHEDULERS = (
    "constant",
    "constant_with_warmup",
    "cosine",
    "cosine_with_restarts",
    "linear",
    "polynomial",
)
DEVICES = ("auto", "cuda", "mps", "cpu")

# Flags the builtin trainer accepts (so kohya presets load unchanged) but does not act on.
IGNORED_WHEN_SET = ("logging_dir", "persistent_data_loader_workers", "max_data_loader_n_workers")

REQUIRED_FIELDS = ("pretrained_model_name_or_path", "train_data_dir", "output_dir", "output_name")


@dataclass
class TrainConfig:
    """Everything the builtin trainer needs for one run."""

    pretrained_model_name_or_path: Path
    train_data_dir: Path
    output_dir: Path
    output_name: str
    logging_dir: Path | None = None
    caption_extension: str = CAPTION_SUFFIX
    resolution: str = "512,512"
    network_module: str = "networks.lora"
    network_dim: int = 16
    network_alpha: float = 8.0
    learning_rate: float = 1e-4
    text_encoder_lr: float | None = None
    optimizer_type: str = "AdamW"
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int = 0
    max_train_steps: int = 1200
    train_batch_size: int = 1  # per process: the effective batch is train_batch_size * num_processes
    num_processes: int = 1  # data-parallel processes (one per GPU), started with torchrun when more than 1
    gradient_checkpointing: bool = False
    mixed_precision: str = "no"
    save_every_n_steps: int = 0
    save_model_as: str = "safetensors"
    cache_latents: bool = False
    network_train_unet_only: bool = False
    persistent_data_loader_workers: bool = False
    max_data_loader_n_workers: int = 0
    seed: int = 42
    device: str = "auto"
    tokenizer: Path | None = None
    tokenizer_cache_dir: Path | None = None  # kohya's flag: <dir>/openai_clip-vit-large-patch14 holds a tokenizer
    comfyui_dir: Path | None = None  # a ComfyUI install, whose comfy/sd1_tokenizer/ holds one
    sample_every_n_steps: int = 0
    sample_prompts: list[str] = field(default_factory=list)
    sample_weights: list[float] = field(default_factory=lambda: list(SAMPLE_WEIGHTS))
    sample_steps: int = 20
    evaluate_after_training: bool = False
    eval_prompts: list[str] = field(default_factory=list)
    eval_style_prompt: str = ""
    eval_seeds: int = 2
    eval_seed: int = 1000
    eval_steps: int = 12
    eval_min_face_rate: float = 0.7
    stop_early: bool = False  # end the run once the likeness stops improving under the same-person threshold
    stop_early_patience: int = STOP_EARLY_PATIENCE
    stop_early_margin: float = STOP_EARLY_MARGIN
    trigger: str = ""
    friend_id: str = ""
    run_id: str = ""
    preset: str = ""
    state_dir: Path | None = None
    extra_flags: dict[str, FlagValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels from `resolution` ("512,512" or "512")."""
        return parse_resolution(self.resolution)

    @property
    def effective_text_encoder_lr(self) -> float:
        """kohya's rule: the text encoder uses `learning_rate` unless `text_encoder_lr` is set."""
        return self.learning_rate if self.text_encoder_lr is None else self.text_encoder_lr

    def tokenizer_options(self) -> dict[str, Path | None]:
        """Where the base-model loader looks for a single file's tokenizer (`load_base_model`'s keywords)."""
        return {"tokenizer_dir": self.tokenizer, "tokenizer_cache_dir": self.tokenizer_cache_dir, "comfyui_dir": self.comfyui_dir}

    def unsupported_flags(self) -> list[str]:
        """Flags given to this run that the builtin trainer accepts but does not implement."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        ignored = [name for name in IGNORED_WHEN_SET if getattr(self, name) != defaults[name]]
        return ignored + list(self.extra_flags)

    def validate(self) -> None:
        """Raise QbtuiError naming the first out-of-range setting."""
        for name in REQUIRED_FIELDS:
            if not str(getattr(self, name) or "").strip():
                raise _bad(name, "is empty", "set it in run.toml or the preset")
        checks: list[tuple[str, bool, str]] = [
            *((name, getattr(self, name) >= low, fix) for name, (low, fix) in FLAG_MINIMUMS.items()),
            ("network_alpha", self.network_alpha > 0, "use a positive alpha such as 8 (half the dim)"),
            ("learning_rate", self.learning_rate > 0, "use a positive rate such as 1e-4"),
            ("text_encoder_lr", self.text_encoder_lr is None or self.text_encoder_lr >= 0, "use 0 or more, e.g. 5e-5"),
            ("eval_seeds", self.eval_seeds > 0, "use 1 or more seeds per evaluation prompt (default 2)"),
            ("eval_steps", self.eval_steps > 0, "use a positive number of denoising steps such as 12"),
            ("eval_min_face_rate", 0 <= self.eval_min_face_rate <= 1, "use a share from 0 to 1, e.g. 0.7"),
            ("stop_early_patience", self.stop_early_patience >= 1, "use 1 or more checkpoints (default 2)"),
            ("stop_early_margin", 0 <= self.stop_early_margin < 1, "use a likeness margin such as 0.02"),
            ("mixed_precision", self.mixed_precision in MIXED_PRECISIONS, f"use one of {', '.join(MIXED_PRECISIONS)}"),
            ("optimizer_type", self.optimizer_type in OPTIMIZERS, "the builtin trainer implements AdamW only"),
            ("lr_scheduler", self.lr_scheduler in LR_SCHEDULERS, f"use one of {', '.join(LR_SCHEDULERS)}"),
            ("device", self.device in DEVICES, f"use one of {', '.join(DEVICES)}"),
            ("network_module", self.network_module == "networks.lora", "the builtin trainer writes networks.lora files"),
            ("save_model_as", self.save_model_as == "safetensors", "use safetensors (the only format written)"),
            ("caption_extension", self.caption_extension.startswith("."), 'start it with a dot, e.g. ".txt"'),
            ("sample_weights", all(w >= 0 for w in self.sample_weights), "use LoRA weights such as 0.6, 0.8, 1.0"),
        ]
        for name, ok, fix in checks:
            if not ok or not _finite(getattr(self, name)):
                raise _bad(name, f"has an unusable value {getattr(self, name)!r}", fix)
        parse_resolution(self.resolution)

    @classmethod
    def from_preset(cls, preset: Preset, settings: Settings, friend: Friend, **overrides: Any) -> TrainConfig:
        """A run's config from a registry preset, the settings' paths and one friend."""
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        extra: dict[str, FlagValue] = {}
        for flag, value in preset.flags.items():
            if flag in known and flag != "extra_flags":
                values[flag] = value
            else:
                extra[flag] = value
        values.update(
            pretrained_model_name_or_path=settings.base_model,
            train_data_dir=friend_root(settings, friend),
            output_dir=settings.lora_dir,
            output_name=friend.output_name,
            tokenizer=settings.tokenizer,
            tokenizer_cache_dir=settings.tokenizer_cache_dir or values.get("tokenizer_cache_dir"),
            comfyui_dir=settings.comfyui_dir,
            device=settings.device,
            trigger=friend.trigger_phrase,
            friend_id=friend.id,
            preset=preset.name,
        )
        style_prompt = f"{friend.trigger_phrase}, {settings.style_suffix}"
        if int(values.get("sample_every_n_steps", 0) or 0) > 0:
            values["sample_prompts"] = [style_prompt]
        values.update(
            evaluate_after_training=settings.eval_after_training,
            eval_prompts=[prompt.replace("{token}", friend.token) for prompt in settings.eval_prompts],
            eval_style_prompt=style_prompt,
            eval_seeds=settings.eval_seeds,
            eval_seed=settings.eval_seed,
            eval_steps=settings.eval_steps,
            eval_min_face_rate=settings.eval_min_face_rate,
            stop_early=settings.stop_early,
            stop_early_patience=settings.stop_early_patience,
            stop_early_margin=settings.stop_early_margin,
        )
        values["extra_flags"] = extra
        values.update(overrides)
        return _build(cls, values, source=f"preset {preset.name!r}")

    def to_toml_table(self) -> dict[str, Any]:
        """Plain TOML values (paths as str); unset optional values are left out."""
        table: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, (list, dict)):
                value = type(value)(value)
            table[f.name] = value
        return table

    @classmethod
    def from_toml_table(cls, table: dict[str, Any], *, path: Path | None = None) -> TrainConfig:
        """The inverse of `to_toml_table`; QbtuiError names the bad key (and file)."""
        if hasattr(table, "unwrap"):
            table = table.unwrap()
        known = {f.name for f in dataclasses.fields(cls)}
        for key in table:
            if key not in known:
                raise QbtuiError(
                    f"[train] has an unknown key {key!r}",
                    path=path,
                    fix=f"remove it or put it under extra_flags; known keys: {', '.join(sorted(known))}",
                )
        return _build(cls, dict(table), source="[train]", path=path)


def parse_resolution(text: str) -> tuple[int, int]:
    """kohya's `--resolution`: "W,H" or one number for a square, multiples of 8."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        numbers = numbers * 2
    if len(numbers) != 2 or any(n <= 0 or n % 8 for n in numbers):
        raise _bad("resolution", f"has an unusable value {text!r}", 'use "512,512" (width,height, multiples of 8)')
    return numbers[0], numbers[1]


def _bad(key: str, problem: str, fix: str, path: Path | None = None) -> QbtuiError:
    return QbtuiError(f"training setting {key} {problem}", path=path, fix=fix)


def _build(cls: type[TrainConfig], values: dict[str, Any], *, source: str, path: Path | None = None) -> TrainConfig:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in REQUIRED_FIELDS:
        if name not in values:
            raise QbtuiError(f"{source} is missing {name}", path=path, fix=f"add {name} = ... to the table")
    converted = {name: _coerce(name, str(fields[name].type), value, path) for name, value in values.items()}
    try:
        return cls(**converted)
    except QbtuiError as error:
        if path is not None and error.path is None:
            raise QbtuiError(error.message, path=path, fix=error.fix) from None
        raise


def _finite(value: Any) -> bool:
    """A number (or every number of a list) is finite: `inf` and `nan` pass `> 0` checks they should fail."""
    values = value if isinstance(value, list) else [value]
    return all(math.isfinite(item) for item in values if isinstance(item, float))


def _coerce(name: str, type_name: str, value: Any, path: Path | None) -> Any:
    """Turn a TOML or preset value into the field's type, or raise naming the key."""
    wrong = QbtuiError(
        f"training setting {name} has a value of the wrong kind: {value!r}",
        path=path,
        fix=f"give {name} a value of type {type_name}",
    )
    if value is None:
        if "None" in type_name:
            return None
        raise wrong
    base = type_name.replace(" | None", "")
    try:
        if base == "Path":
            if not isinstance(value, (str, Path)):
                raise wrong
            return Path(value).expanduser()
        if base == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise wrong
        if base == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise wrong
            return int(value)
        if base == "float":
            if isinstance(value, bool):
                raise wrong
            return float(value)
        if base == "str":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise wrong
            return str(value)
        if base == "list[str]":
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise wrong
            return list(value)
        if base == "list[float]":
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            return [float(v) for v in value]
        if base == "dict[str, FlagValue]":
            if not isinstance(value, dict):
                raise wrong
            return dict(value)
    except (TypeError, ValueError):
        raise wrong from None
    raise wrong
