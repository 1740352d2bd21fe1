"""scripts/import_cycles.py: it finds a cycle however it is hidden, and qbtui has none."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "scripts/import_cycles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def package(tmp_path, monkeypatch):
    """Write a throwaway package `cyc` from {module: source} and put it on the path."""

    def write(files: dict[str, str]) -> str:
        root = tmp_path / "cyc"
        root.mkdir()
        (root / "__init__.py").write_text("")
        for name, source in files.items():
            (root / f"{name}.py").write_text(source)
        monkeypatch.syspath_prepend(str(tmp_path))
        return "cyc"

    yield write
    for name in [name for name in sys.modules if name == "cyc" or name.startswith("cyc.")]:
        del sys.modules[name]


def test_a_cycle_through_a_function_and_type_checking_is_found(package):
    name = package(
        {
            "a": "def f():\n    from cyc import b\n",
            "b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyc import c\n",
            "c": "import cyc.a\n",
            "d": "import cyc.a\n",
        }
    )
    assert _checker().import_cycles(name) == [["cyc.a", "cyc.b", "cyc.c"]]


def test_layers_without_a_cycle_pass(package):
    name = package({"low": "X = 1\n", "mid": "from cyc.low import X\n", "top": "from cyc import mid, low\n"})
    assert _checker().import_cycles(name) == []


def test_qbtui_has_no_import_cycle():
    assert _checker().import_cycles("qbtui") == []
