"""AUTOMATIC1111's `parameters` PNG text, written and read back, and the hashes it names.

    qb_ada person at the beach, <lora:qb_ada_lora:0.8>, ...
    Negative prompt: lowres, blurry
    Steps: 30, Sampler: Euler a, Schedule type: Uniform, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, RNG: CPU, Lora hashes: "qb_ada_lora: 8a1b2c3d4e5f", Version: qbtui 0.1

A value holding a comma, colon, newline or quote is written as a JSON string (A1111's
`infotext_utils.quote` does so for the first three; a quote is added so that a value like
`"x"` is not read back as `x`), and read back with `json.loads` as A1111's `unquote` does.
`Schedule type` names A1111's schedule that matches the timesteps qbtui's diffusers sampler
takes (SD1.5's config: `linspace` spacing, no Karras sigmas), and `RNG: CPU` says the noise
comes from a CPU `torch.Generator` seeded with `Seed`: without them A1111 reads "Automatic"
(Karras for DPM++ 2M) and GPU noise. `Model hash` is the first 10 hex digits of the checkpoint's SHA-256 (A1111's short hash), a
LoRA's hash the first 12 of the SHA-256 of its tensor data (the safetensors file after its
header: A1111's and kohya's "addnet" hash), which is what image sites match on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from qbtui import __version__
from qbtui.safefile import open_regular

# A1111's field pattern: `Name: value` or `Name: "quoted, value"`, comma-separated.
_FIELD = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
NEGATIVE = "Negative prompt: "
MIN_FIELDS = 3  # A1111 takes the last line for the fields only when it holds at least three
RNG = "CPU"
SAMPLE_WEIGHT_FIELD = "LoRA weight"  # what a training sample's text says its LoRA weight was
# A1111's schedule type for the timesteps each diffusers sampler takes from SD1.5's config:
# Euler's `linspace(999, 0, n)` is A1111's "Uniform", DPM++ 2M's `linspace(999, 0, n + 1)[:-1]`
# its "SGM Uniform". A1111's DDIM is a timestep sampler without a schedule type.
SCHEDULE_TYPES = {"Euler a": "Uniform", "Euler": "Uniform", "DPM++ 2M": "SGM Uniform"}


def quote(value: object) -> str:
    """A field's value as written: JSON-quoted when it holds a comma, colon, newline or quote or edge spaces."""
    text = str(value)
    if any(mark in text for mark in ',:\n"') or text != text.strip():
        return json.dumps(text, ensure_ascii=False)
    return text


def unquote(value: str) -> str:
    """A field's value as read: a quoted one decoded as JSON (A1111's `unquote`)."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def infotext(prompt: str, negative_prompt: str, fields: list[tuple[str, object]]) -> str:
    """A `parameters` text: the prompt, the negative prompt and `Name: value` fields, values quoted."""
    lines = [prompt]
    if negative_prompt:
        lines.append(NEGATIVE + negative_prompt)
    lines.append(", ".join(f"{name}: {quote(value)}" for name, value in fields))
    return "\n".join(lines)


@dataclass(frozen=True)
class Generation:
    """What one drawing was made from, as A1111's PNG Info shows it."""

    prompt: str
    negative_prompt: str
    steps: int
    sampler: str
    cfg_scale: float
    seed: int
    width: int
    height: int
    model_hash: str
    model: str
    lora_hashes: tuple[tuple[str, str], ...] = ()

    def text(self) -> str:
        """The `parameters` chunk as A1111 writes it."""
        fields: list[tuple[str, object]] = [("Steps", self.steps), ("Sampler", self.sampler)]
        if self.sampler in SCHEDULE_TYPES:
            fields.append(("Schedule type", SCHEDULE_TYPES[self.sampler]))
        fields += [
            ("CFG scale", f"{self.cfg_scale:g}"),
            ("Seed", self.seed),
            ("Size", f"{self.width}x{self.height}"),
            ("Model hash", self.model_hash),
            ("Model", self.model),
            ("RNG", RNG),
        ]
        if self.lora_hashes:
            fields.append(("Lora hashes", lora_hashes_field(self.lora_hashes)))
        fields.append(("Version", f"qbtui {__version__}"))
        return infotext(self.prompt, self.negative_prompt, fields)


def lora_hashes_field(hashes: tuple[tuple[str, str], ...]) -> str:
    """`name: hash, name: hash`, as A1111's Lora extension joins them (quoted as a whole when written)."""
    return ", ".join(f"{name}: {digest}" for name, digest in hashes)


def parse_parameters(text: str) -> dict[str, str]:
    """A `parameters` text as A1111's PNG Info reads it: `prompt`, `negative_prompt` and every field.

    As A1111's `parse_generation_parameters`: the last line holds the fields when the field
    pattern finds at least three in it; a quoted value is decoded as JSON.
    """
    lines = text.strip().split("\n")
    fields: dict[str, str] = {}
    if len(lines) > 1 and len(_FIELD.findall(lines[-1])) >= MIN_FIELDS:
        for name, value in _FIELD.findall(lines.pop()):
            fields[name] = unquote(value)
    prompt: list[str] = []
    negative: list[str] = []
    for line in lines:
        if line.startswith(NEGATIVE) or negative:
            negative.append(line[len(NEGATIVE) :] if not negative else line)
        else:
            prompt.append(line)
    return {"prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative), **fields}


def model_short_hash(sha256: str) -> str:
    """A1111's `Model hash`: the first 10 hex digits of the checkpoint's SHA-256."""
    return sha256[:10]


def lora_short_hash(path: Path) -> str:
    """A1111's LoRA hash: SHA-256 of a safetensors file's bytes after its header, first 12 hex digits."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        header = int.from_bytes(handle.read(8), "little")
        handle.seek(8 + header)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def with_lora(text: str, lora_name: str, weight: float, lora_hash: str | None) -> str:
    """A training sample's `parameters` as a card picture's: its LoRA as a `<lora:name:w>` tag and hash.

    The tag goes first in the prompt (as `qbtui draw` writes it), at the weight the sample was
    drawn with (its `LoRA weight`, else `weight`); A1111's schedule type and `RNG: CPU` are added
    where missing (samples are drawn with CPU noise too), so "Send to txt2img" draws with the LoRA.
    A text without A1111's fields (not a qbtui sample) is given back as it is.
    """
    parsed = parse_parameters(text)
    if "Steps" not in parsed:
        return text
    prompt, negative = parsed.pop("prompt"), parsed.pop("negative_prompt")
    drawn_at = parsed.pop(SAMPLE_WEIGHT_FIELD, "")
    if re.fullmatch(r"\d+(\.\d+)?", drawn_at):
        weight = float(drawn_at)
    fields: list[tuple[str, object]] = []
    for name, value in parsed.items():
        if name in ("RNG", "Lora hashes"):
            continue
        fields.append((name, value))
        if name == "Sampler" and "Schedule type" not in parsed and value in SCHEDULE_TYPES:
            fields.append(("Schedule type", SCHEDULE_TYPES[value]))
    fields.append(("RNG", parsed.get("RNG", RNG)))
    if lora_hash:
        fields.append(("Lora hashes", lora_hashes_field(((lora_name, lora_hash),))))
    return infotext(f"<lora:{lora_name}:{weight:g}>, {prompt}", negative, fields)
