"""A run's sample images as its `sample` events record them: the step, the LoRA weight and the seed of each.

The builtin trainer names its samples `<name>_<step>_<prompt index>_w<weight>_<seed>.png`
(`qbtui.trainer.sampling.generate_samples`); the seed is read from that name, the step
and the weight from the event (the name's weight where an event leaves it out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qbtui.printable import printable

SAMPLE_NAME = re.compile(r"_w(?P<weight>\d+(?:\.\d+)?)_(?P<seed>\d+)\.png$")


@dataclass(frozen=True)
class RunSample:
    """One sample image a run drew: its file and what is known of how it was drawn."""

    path: str
    step: int | None = None
    weight: float | None = None
    seed: int | None = None

    @property
    def caption(self) -> str:
        """`step 800 · weight 0.8 · seed 1234` (what is known of it), else the file's name."""
        parts = [
            f"step {self.step}" if self.step is not None else "",
            f"weight {self.weight:g}" if self.weight is not None else "",
            f"seed {self.seed}" if self.seed is not None else "",
        ]
        return " · ".join(part for part in parts if part) or printable(Path(self.path).stem)


def sample_of(event: dict[str, Any]) -> RunSample:
    """The sample a validated `sample` event announces."""
    path = str(event["path"])
    named = SAMPLE_NAME.search(Path(path).name)
    weight = event.get("weight")
    if weight is None and named:
        weight = float(named.group("weight"))
    return RunSample(
        path=path,
        step=event.get("step"),
        weight=float(weight) if weight is not None else None,
        seed=int(named.group("seed")) if named else None,
    )
