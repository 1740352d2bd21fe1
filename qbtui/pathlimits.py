"""File-system name limits: every name qbtui derives for a friend must fit before anything is written.

A friend's id names their dataset folder, training folder and run folders; the token names
the LoRA files (with step suffixes and atomic-write temp names). Each is checked, in UTF-8
bytes, against NAME_MAX of the folder it goes in (`os.pathconf`, 255 when unknown).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from qbtui.atomicfile import temp_path_for

FALLBACK_NAME_MAX = 255
# The longest forms qbtui gives each kind of name (placeholders of the real width).
RUN_ID_EXAMPLE = "20260101-000000-{id}-abcd"
QUEUE_ENTRY_EXAMPLE = "000000-" + RUN_ID_EXAMPLE
CHECKPOINT_EXAMPLE = "{lora}-step00000000.safetensors"
KOHYA_CHECKPOINT_EXAMPLE = "{lora}-000000.safetensors"
KOHYA_STATE_EXAMPLE = "{lora}-step00000000-state"
SAMPLE_EXAMPLE = "{lora}_000000_00_w0.80_4294967295.png"


class DerivedName(NamedTuple):
    """One name qbtui will create, the folder it goes in, and what it is (for messages)."""

    folder: Path
    name: str
    what: str


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


def _temp_name(name: str) -> str:
    return temp_path_for(Path(name)).name


def derived_names(
    datasets_dir: Path, lora_dir: Path, logs_dir: Path, friend_id: str, token: str, repeats: int
) -> list[DerivedName]:
    """Every file or folder name qbtui may create for this friend, longest form of each."""
    lora = f"{token}_lora"
    run_id = RUN_ID_EXAMPLE.format(id=friend_id)
    run_folder = logs_dir / friend_id
    return [
        DerivedName(datasets_dir, friend_id, "the friend's dataset folder"),
        DerivedName(datasets_dir / friend_id, f"{repeats}_{friend_id}", "the training folder"),
        DerivedName(run_folder, run_id, "a run folder"),
        DerivedName(logs_dir / ".queue", QUEUE_ENTRY_EXAMPLE.format(id=friend_id), "a queue entry"),
        DerivedName(lora_dir, _temp_name(CHECKPOINT_EXAMPLE.format(lora=lora)), "a LoRA checkpoint (while written)"),
        DerivedName(lora_dir, _temp_name(KOHYA_CHECKPOINT_EXAMPLE.format(lora=lora)), "a kohya LoRA checkpoint"),
        DerivedName(lora_dir, KOHYA_STATE_EXAMPLE.format(lora=lora), "a kohya state folder"),
        DerivedName(lora_dir / "sample", _temp_name(SAMPLE_EXAMPLE.format(lora=lora)), "a sample image"),
    ]


def too_long(names: list[DerivedName]) -> DerivedName | None:
    """The first name over its folder's NAME_MAX (in UTF-8 bytes), or None when all fit."""
    limits: dict[Path, int] = {}
    for derived in names:
        limit = limits.setdefault(derived.folder, name_max(derived.folder))
        if len(os.fsencode(derived.name)) > limit:
            return derived
    return None


def name_length_problem(
    datasets_dir: Path, lora_dir: Path, logs_dir: Path, friend_id: str, token: str, repeats: int
) -> str | None:
    """Why this friend's id or token makes a name the file system refuses, or None."""
    derived = too_long(derived_names(datasets_dir, lora_dir, logs_dir, friend_id, token, repeats))
    if derived is None:
        return None
    size = len(os.fsencode(derived.name))
    return (
        f"the name is too long for the file system: {derived.what} would be named {derived.name[:40]}... "
        f"({size} bytes; the file system allows {name_max(derived.folder)})"
    )
