"""What a `qbtui draw` will do, worked out and checked before any model loads (no torch here).

A `DrawPlan` is plain data the worker subprocess reads as JSON: the base model, the LoRA of
each friend the scenes name (the evaluation's file and weight where the registry has them,
else the last training's file at `lora_weight`), and per scene the A1111 prompt (with its
`<lora:name:w>` tags), the text the model reads (tags removed, as A1111 does) and the seeds.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qbtui.choice import friend_weight, lora_file
from qbtui.errors import QbtuiError
from qbtui.prompt import build_prompt, convert_names
from qbtui.registry import Registry, Settings

SIZE_PATTERN = re.compile(r"^(?P<width>\d+)x(?P<height>\d+)$")
MAX_SIDE = 2048
INDEX_NAME = "index.jsonl"
BASE_MODEL_FIX = "set base_model in registry.toml [settings] to your SD 1.5 .safetensors file or diffusers folder"


@dataclass(frozen=True)
class PlannedLora:
    """One friend's LoRA as the drawing uses it."""

    friend: str
    name: str  # the file stem, as in `<lora:name:w>`
    path: str
    weight: float
    hash: str


@dataclass(frozen=True)
class Job:
    """One scene: its prompt, the model's text, the friends in it and one seed per image."""

    scene: str
    prompt: str
    text: str
    friends: tuple[str, ...]
    weights: dict[str, float]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class DrawPlan:
    """Everything the worker needs; `to_json` / `from_json` carry it across the process boundary."""

    base_model: str
    tokenizer: str | None
    device: str
    sampler: str
    guidance_scale: float
    steps: int
    size: tuple[int, int] | None
    negative_prompt: str
    out_dir: str
    loras: dict[str, PlannedLora]
    jobs: tuple[Job, ...]
    index: str = field(default="")
    tokenizer_cache_dir: str | None = None
    comfyui_dir: str | None = None

    def tokenizer_options(self) -> dict[str, str | None]:
        """Where the base-model loader looks for a single file's tokenizer (`load_base_model`'s keywords)."""
        return {"tokenizer_dir": self.tokenizer, "tokenizer_cache_dir": self.tokenizer_cache_dir, "comfyui_dir": self.comfyui_dir}

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> DrawPlan:
        data = json.loads(text)
        data["loras"] = {key: PlannedLora(**value) for key, value in data["loras"].items()}
        data["jobs"] = tuple(
            Job(**{**job, "friends": tuple(job["friends"]), "seeds": tuple(job["seeds"])}) for job in data["jobs"]
        )
        data["size"] = tuple(data["size"]) if data["size"] else None
        return cls(**data)

    @property
    def image_count(self) -> int:
        return sum(len(job.seeds) for job in self.jobs)


def parse_size(text: str | None) -> tuple[int, int] | None:
    """`512x512` -> (512, 512); None for the model's own size. QbtuiError for anything else."""
    if text is None:
        return None
    match = SIZE_PATTERN.match(text.strip().lower())
    if not match:
        raise QbtuiError(f"--size {text!r} is not WIDTHxHEIGHT", fix="write it like 512x512 (or 512x768)")
    width, height = int(match["width"]), int(match["height"])
    if not (64 <= width <= MAX_SIDE and 64 <= height <= MAX_SIDE) or width % 8 or height % 8:
        raise QbtuiError(f"--size {text} must be multiples of 8 from 64 to {MAX_SIDE}", fix="SD 1.5 draws best at 512x512")
    return width, height


def _prompts(scene: str, registry: Registry, loras: dict[str, PlannedLora]) -> tuple[str, str, list[str]]:
    """The A1111 prompt (LoRA tags first), the text the model reads, and the friend ids named."""
    converted, found = convert_names(scene.strip().rstrip(",").strip(), registry.friends)
    text = build_prompt(converted, [], style_suffix=registry.settings.style_suffix, weight=0.0)
    ids = [friend.id for friend in found]
    tags = [f"<lora:{loras[friend_id].name}:{loras[friend_id].weight:g}>" for friend_id in ids]
    return ", ".join([*tags, text]), text, ids


def _friend_lora(registry: Registry, friend_id: str, weight: float | None) -> PlannedLora:
    from qbtui.draw.parameters import lora_short_hash

    settings = registry.settings
    friend = registry.friend(friend_id)
    path = lora_file(friend, settings)
    if path is None:
        raise QbtuiError(
            f"{friend.name} has no trained LoRA yet, so they cannot be drawn",
            fix=f"train them first: `qbtui train {friend.id}` (or leave {friend.name} out of the scene)",
        )
    if not path.is_file():
        raise QbtuiError(
            f"{friend.name}'s LoRA file is missing",
            path=path,
            fix=f"put {path.name} back in lora_dir ({settings.lora_dir}), or train again: `qbtui train {friend.id}`",
        )
    chosen = friend_weight(friend, settings) if weight is None else weight
    try:
        digest = lora_short_hash(path)
    except OSError as error:
        raise QbtuiError(
            f"cannot read {friend.name}'s LoRA file: {error.strerror}", path=path, fix="check its permissions"
        ) from None
    return PlannedLora(friend=friend.id, name=path.stem, path=str(path), weight=chosen, hash=digest)


def plan_drawings(
    registry: Registry,
    scenes: list[str],
    *,
    n: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    size: str | tuple[int, int] | None = None,
    out_dir: Path | str | None = None,
    weights: dict[str, float] | None = None,
) -> DrawPlan:
    """Check everything a drawing needs and fix its prompts and seeds; QbtuiError naming the fix otherwise.

    `weights` (friend id -> weight) overrides the registry's weights. Image `i` of a scene gets
    seed `seed + i` (A1111's batch rule); a missing seed is chosen at random.
    """
    settings: Settings = registry.settings
    scenes = [scene.strip() for scene in scenes if scene.strip()]
    if not scenes:
        raise QbtuiError("there is no scene to draw", fix='write one, e.g. qbtui draw "Peter climbing a tree"')
    if n < 1:
        raise QbtuiError(f"--n must be at least 1, not {n}", fix="draw one or more images: --n 4")
    steps = settings.draw_steps if steps is None else steps
    if steps < 1:
        raise QbtuiError(f"--steps must be at least 1, not {steps}", fix="A1111's default is 20; the guide's drawings use 30")
    if not settings.base_model.exists():
        raise QbtuiError("the base model is missing", path=settings.base_model, fix=BASE_MODEL_FIX)
    pixels = parse_size(size) if isinstance(size, str) or size is None else size
    named = [convert_names(scene, registry.friends)[1] for scene in scenes]
    loras: dict[str, PlannedLora] = {}
    for friend in (friend for found in named for friend in found):
        if friend.id not in loras:
            loras[friend.id] = _friend_lora(registry, friend.id, (weights or {}).get(friend.id))
    first_seed = secrets.randbelow(2**32) if seed is None else seed
    jobs = []
    for scene in scenes:
        prompt, text, ids = _prompts(scene, registry, loras)
        jobs.append(
            Job(
                scene=scene,
                prompt=prompt,
                text=text,
                friends=tuple(ids),
                weights={friend_id: loras[friend_id].weight for friend_id in ids},
                seeds=tuple((first_seed + index) % 2**32 for index in range(n)),
            )
        )
    folder = Path(out_dir).expanduser().absolute() if out_dir else settings.drawings_folder
    _check_out_folder(folder, given=bool(out_dir))
    return DrawPlan(
        base_model=str(settings.base_model),
        tokenizer=str(settings.tokenizer) if settings.tokenizer else None,
        tokenizer_cache_dir=str(settings.tokenizer_cache_dir) if settings.tokenizer_cache_dir else None,
        comfyui_dir=str(settings.comfyui_dir) if settings.comfyui_dir else None,
        device=settings.device,
        sampler=settings.draw_sampler,
        guidance_scale=settings.guidance_scale,
        steps=steps,
        size=pixels,
        negative_prompt=settings.negative_prompt,
        out_dir=str(folder),
        loras=loras,
        jobs=tuple(jobs),
        index=str(folder / INDEX_NAME),
    )


def _check_out_folder(folder: Path, *, given: bool) -> None:
    """QbtuiError when `folder`, or the nearest part of its path that exists, is not a folder."""
    existing = folder
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if existing.is_dir():
        return
    what = "a file" if existing.is_file() else "not a folder"
    if given:
        raise QbtuiError(
            f"--out names the folder the drawings go into, and {existing} is {what}",
            path=existing,
            fix="give --out a folder (a new one is created), e.g. --out drawings",
        )
    raise QbtuiError(
        f"the drawings folder cannot be made: {existing} is {what}",
        path=existing,
        fix="set drawings_dir in registry.toml [settings] to a folder",
    )


def read_scenes(path: Path) -> list[str]:
    """The scenes of a `--from` file: one a line; blank lines and `#` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QbtuiError("the scenes file does not exist", path=path, fix="write one scene a line into it") from None
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise QbtuiError("the scenes file is not UTF-8", path=path, line=line, fix="save it as UTF-8") from None
    except OSError as error:
        raise QbtuiError(f"cannot read the scenes file: {error.strerror}", path=path, fix="check its permissions") from None
    scenes = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not scenes:
        raise QbtuiError(
            "the scenes file has no scene in it", path=path, fix="write one scene a line, e.g. Peter climbing a tree"
        )
    return scenes


def entry_json(entry: dict[str, Any]) -> str:
    """One index line."""
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
