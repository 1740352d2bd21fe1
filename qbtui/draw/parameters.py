"""AUTOMATIC1111's `parameters` PNG text, written and read back, and the hashes it names.

    qb_ada person at the beach, <lora:qb_ada_lora:0.8>, ...
    Negative prompt: lowres, blurry
    Steps: 30, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "qb_ada_lora: 8a1b2c3d4e5f", Version: qbtui 0.1

`Model hash` is the first 10 hex digits of the checkpoint's SHA-256 (A1111's short hash), a
LoRA's hash the first 12 of the SHA-256 of its tensor data (the safetensors file after its
header: A1111's and kohya's "addnet" hash), which is what image sites match on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from qbtui import __version__
from qbtui.safefile import open_regular

# A1111's field pattern: `Name: value` or `Name: "quoted, value"`, comma-separated.
_FIELD = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
NEGATIVE = "Negative prompt: "


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
        fields = [
            f"Steps: {self.steps}",
            f"Sampler: {self.sampler}",
            f"CFG scale: {self.cfg_scale:g}",
            f"Seed: {self.seed}",
            f"Size: {self.width}x{self.height}",
            f"Model hash: {self.model_hash}",
            f"Model: {self.model}",
        ]
        if self.lora_hashes:
            fields.append('Lora hashes: "' + ", ".join(f"{name}: {digest}" for name, digest in self.lora_hashes) + '"')
        fields.append(f"Version: qbtui {__version__}")
        lines = [self.prompt]
        if self.negative_prompt:
            lines.append(NEGATIVE + self.negative_prompt)
        lines.append(", ".join(fields))
        return "\n".join(lines)


def parse_parameters(text: str) -> dict[str, str]:
    """A `parameters` text as A1111's PNG Info reads it: `prompt`, `negative_prompt` and every field."""
    lines = text.strip().split("\n")
    fields: dict[str, str] = {}
    if len(lines) > 1 and _FIELD.match(lines[-1]) and lines[-1].startswith("Steps: "):
        for name, value in _FIELD.findall(lines.pop()):
            fields[name.strip()] = value[1:-1] if value.startswith('"') and value.endswith('"') else value
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
