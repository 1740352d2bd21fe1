"""Past drawings, newest first, from the drawings folder's index (one JSON object a line)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbtui.draw.plan import INDEX_NAME
from qbtui.registry import Settings
from qbtui.safefile import read_bytes


@dataclass(frozen=True)
class Drawing:
    """One line of the index whose PNG still exists."""

    path: Path
    scene: str
    prompt: str
    seed: int
    friends: tuple[str, ...]
    t: float

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Drawing:
        return cls(
            path=Path(entry["path"]),
            scene=str(entry.get("scene", "")),
            prompt=str(entry.get("prompt", "")),
            seed=int(entry.get("seed", 0)),
            friends=tuple(str(friend.get("id", "")) for friend in entry.get("friends", []) if isinstance(friend, dict)),
            t=float(entry.get("t", 0)),
        )


def read_gallery(settings: Settings, folder: Path | None = None) -> list[Drawing]:
    """Every drawing in the index whose file is still there, newest first; unreadable lines skipped."""
    index = (folder or settings.drawings_folder) / INDEX_NAME
    try:
        data = read_bytes(index)
    except OSError:
        return []
    drawings = []
    for line in data.splitlines():
        try:
            entry = json.loads(line)
            drawing = Drawing.from_entry(entry)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if drawing.path.is_file():
            drawings.append(drawing)
    return sorted(drawings, key=lambda drawing: drawing.t, reverse=True)
