"""`draw()`: plan in this process (no torch), draw in `python -m qbtui.draw.worker`, return the PNGs.

from qbtui.draw import draw
paths = draw("Peter and Maria climbing a tree", n=4)
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from qbtui.draw.plan import DrawPlan, plan_drawings
from qbtui.errors import QbtuiError
from qbtui.registry import Registry, locate_registry

Progress = Callable[[dict[str, Any]], None]
STDERR_TAIL = 20


def worker_command() -> list[str]:
    return [sys.executable, "-m", "qbtui.draw.worker"]


def run_plan(plan: DrawPlan, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run the worker on `plan`; its `image` events (path, prompt, seed, ...) in order. QbtuiError when it fails."""
    images: list[dict[str, Any]] = []
    error: dict[str, Any] | None = None
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
    process = subprocess.Popen(
        worker_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    import threading

    reader = threading.Thread(target=lambda: stderr_tail.extend(process.stderr or ()), daemon=True)
    reader.start()
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(plan.to_json())
        process.stdin.close()
        for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or "event" not in event:
                continue
            if event["event"] == "image":
                images.append(event)
            elif event["event"] == "error":
                error = event
            if progress is not None:
                progress(event)
        returncode = process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    reader.join(timeout=5)
    if error is not None:
        raise QbtuiError(error["message"], path=error.get("path"), fix=error.get("fix"))
    if returncode != 0:
        tail = "\n".join(line.rstrip() for line in stderr_tail)
        raise QbtuiError(f"the drawing process exited with code {returncode}:\n{tail}", fix="see the message above")
    return images


def draw(
    scenes: str | Iterable[str],
    *,
    n: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    size: str | None = None,
    out_dir: Path | str | None = None,
    weights: dict[str, float] | None = None,
    registry: Registry | Path | str | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Draw each scene `n` times with the friends it names; the PNG paths, in order.

    `registry` is a loaded Registry or its path (default: as the CLI finds it). The pipeline
    loads once for all the scenes. Raises QbtuiError (with the fix) for an untrained friend,
    a missing LoRA file or base model before any model loads.
    """
    if not isinstance(registry, Registry):
        registry = Registry.load(locate_registry(str(registry) if registry else None))
    plan = plan_drawings(
        registry,
        [scenes] if isinstance(scenes, str) else list(scenes),
        n=n,
        seed=seed,
        steps=steps,
        size=size,
        out_dir=out_dir,
        weights=weights,
    )
    return [Path(image["path"]) for image in run_plan(plan, progress)]
