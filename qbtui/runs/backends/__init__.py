"""Backends a run can use: `builtin` (qbtui's trainer) and `kohya` (sd-scripts)."""

BACKENDS = ("builtin", "kohya")
