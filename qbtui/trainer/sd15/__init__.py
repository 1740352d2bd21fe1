"""Stable Diffusion 1.5 as data: component configs and the single-file (LDM/A1111) key layout."""
