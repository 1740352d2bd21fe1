"""The CLI and dashboard processes never load torch & co.; domain modules never load Textual."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "diffusers", "transformers", "accelerate")
UI = ("textual",)

PROBE = """
import importlib, json, pkgutil, sys
names = sys.argv[1].split(",")
for name in names:
    module = importlib.import_module(name)
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, prefix=name + "."):
            importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after_importing(*names: str) -> set[str]:
    """Top-level packages in sys.modules of a fresh interpreter after importing `names` (packages: all submodules)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(names)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return {module.split(".")[0] for module in json.loads(result.stdout)}


def test_cli_and_dashboard_processes_load_no_torch() -> None:
    loaded = loaded_after_importing(
        "qbtui.cli",
        "qbtui.registry",
        "qbtui.prompt",
        "qbtui.overview",
        "qbtui.cards",
        "qbtui.draw",
        "qbtui.draw.plan",
        "qbtui.draw.run",
        "qbtui.draw.gallery",
        "qbtui.demo",
        "qbtui.dataset",
        "qbtui.runs",
        "qbtui.tui",
        "qbtui.tui.app",
    )
    assert "textual" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_domain_modules_load_no_textual() -> None:
    loaded = loaded_after_importing(
        "qbtui.registry", "qbtui.prompt", "qbtui.overview", "qbtui.cards", "qbtui.dataset", "qbtui.runs", "qbtui.trainer.config"
    )
    assert "tomlkit" in loaded
    assert loaded.isdisjoint(UI + HEAVY), sorted(loaded & set(UI + HEAVY))
