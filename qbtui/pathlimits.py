"""File-system name limits: every name qbtui derives for a friend must fit before anything is written.

A friend's id names their dataset folder, training folder and run folders; the token names
the LoRA stem `<token>_lora`, and every file named after it: checkpoints, their cards,
previews and LoRA Manager sidecars, samples, kohya's state folders. Each is checked, in UTF-8
bytes, against NAME_MAX of the folder it goes in (`os.pathconf`, 255 when unknown). Atomic-write
temp names need no check: `atomicfile.temp_path_for` shortens them to fit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

FALLBACK_NAME_MAX = 255
# The longest forms qbtui gives each kind of name (placeholders of the real width).
RUN_ID_EXAMPLE = "20260101-000000-{id}-abcd"
QUEUE_ENTRY_EXAMPLE = "000000-" + RUN_ID_EXAMPLE
# Every name written after a LoRA stem, longest form of each (a checkpoint's stem is `<stem>-step00000000`).
LORA_NAME_EXAMPLES = (
    ("{lora}-step00000000.safetensors", "a LoRA checkpoint"),
    ("{lora}-step00000000.json", "a checkpoint's card"),
    ("{lora}-step00000000.png", "a checkpoint's preview"),
    ("{lora}-step00000000.metadata.json", "a checkpoint's LoRA Manager sidecar"),
    ("{lora}-000000.safetensors", "a kohya LoRA checkpoint"),
    ("{lora}-step00000000-state", "a kohya state folder"),
    ("{lora}_000000_00_w10.00_4294967295.png", "a sample image"),
    ("{lora}_e000000_00_20260101000000_4294967295.png", "a kohya sample image"),
)


class DerivedName(NamedTuple):
    """One name qbtui will create, the folder it goes in, what it is, and what it is named after
    (`id` or `token`: the value to shorten)."""

    folder: Path
    name: str
    what: str
    source: str = "id"


class NameTooLong(NamedTuple):
    """A derived name over its folder's limit: which one, its size and the limit, in bytes."""

    derived: DerivedName
    size: int
    limit: int

    def message(self) -> str:
        """`too long for the file system: the token makes file names of 262 bytes (limit 255); ...`."""
        kind = "file names" if self.derived.source == "token" else "folder and file names"
        return (
            f"too long for the file system: the {self.derived.source} makes {kind} of {self.size} bytes "
            f"(limit {self.limit}); {self.derived.what} would be named {self.derived.name[:40]}..."
        )


def name_max(folder: Path) -> int:
    """NAME_MAX in bytes for names in `folder` (asked of its nearest existing ancestor)."""
    probe = Path(folder)
    while True:
        try:
            return int(os.pathconf(probe, "PC_NAME_MAX"))
        except (OSError, ValueError):
            if probe.parent == probe:
                return FALLBACK_NAME_MAX
            probe = probe.parent


def longest_lora_name(lora_stem: str) -> tuple[str, str]:
    """The longest file or folder name qbtui or kohya writes after `lora_stem`, and what it is."""
    return max(
        ((template.format(lora=lora_stem), what) for template, what in LORA_NAME_EXAMPLES),
        key=lambda named: len(os.fsencode(named[0])),
    )


def derived_names(
    datasets_dir: Path, lora_dir: Path, logs_dir: Path, friend_id: str, token: str, repeats: int
) -> list[DerivedName]:
    """Every file or folder name qbtui may create for this friend, longest form of each."""
    lora_name, lora_what = longest_lora_name(f"{token}_lora")
    run_id = RUN_ID_EXAMPLE.format(id=friend_id)
    run_folder = logs_dir / friend_id
    return [
        DerivedName(datasets_dir, friend_id, "the friend's dataset folder"),
        DerivedName(datasets_dir / friend_id, f"{repeats}_{friend_id}", "the training folder"),
        DerivedName(run_folder, run_id, "a run folder"),
        DerivedName(logs_dir / ".queue", QUEUE_ENTRY_EXAMPLE.format(id=friend_id), "a queue entry"),
        DerivedName(lora_dir, lora_name, lora_what, "token"),
    ]


def too_long(names: list[DerivedName]) -> DerivedName | None:
    """The first name over its folder's NAME_MAX (in UTF-8 bytes), or None when all fit."""
    limits: dict[Path, int] = {}
    for derived in names:
        limit = limits.setdefault(derived.folder, name_max(derived.folder))
        if len(os.fsencode(derived.name)) > limit:
            return derived
    return None


def name_too_long(
    datasets_dir: Path, lora_dir: Path, logs_dir: Path, friend_id: str, token: str, repeats: int
) -> NameTooLong | None:
    """The first name this friend's id or token makes that the file system refuses, or None."""
    derived = too_long(derived_names(datasets_dir, lora_dir, logs_dir, friend_id, token, repeats))
    if derived is None:
        return None
    return NameTooLong(derived, len(os.fsencode(derived.name)), name_max(derived.folder))


def name_length_problem(
    datasets_dir: Path, lora_dir: Path, logs_dir: Path, friend_id: str, token: str, repeats: int
) -> str | None:
    """Why this friend's id or token makes a name the file system refuses, or None."""
    refusal = name_too_long(datasets_dir, lora_dir, logs_dir, friend_id, token, repeats)
    return refusal.message() if refusal else None
