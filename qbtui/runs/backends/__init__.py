"""Backends a run can use: `builtin` (qbtui's trainer) and `kohya` (sd-scripts)."""

from qbtui.registry import BACKENDS

__all__ = ["BACKENDS"]
