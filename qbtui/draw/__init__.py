"""Drawing scenes with the friends' LoRAs: plan here, torch only in `python -m qbtui.draw.worker`.

`draw(scenes, n=...)` returns the PNG paths; `plan_drawings` checks a drawing without drawing;
`read_gallery` lists past drawings from the index. Names are imported on first use.
"""

from __future__ import annotations

from qbtui.lazy import lazy_exports

_EXPORTS = {
    "draw": "run",
    "run_plan": "run",
    "plan_drawings": "plan",
    "read_scenes": "plan",
    "DrawPlan": "plan",
    "parse_parameters": "parameters",
    "read_gallery": "gallery",
}

__all__ = ["DrawPlan", "draw", "parse_parameters", "plan_drawings", "read_gallery", "read_scenes", "run_plan"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
