"""The lazy packages: the names type checkers see are the names imported on first use."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

LAZY_PACKAGES = ["qbtui.dataset", "qbtui.registry", "qbtui.runs"]


def type_checking_names(package: str) -> dict[str, str]:
    """`name -> submodule` from the package's `if TYPE_CHECKING:` imports."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module, ast.dump(statement)
                for alias in statement.names:
                    assert alias.asname == alias.name, f"{alias.name}: write `{alias.name} as {alias.name}` to re-export"
                    names[alias.name] = statement.module.removeprefix(package + ".")
    return names


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_type_checking_mirror_equals_the_lazy_exports(package):
    module = importlib.import_module(package)
    assert type_checking_names(package) == module._EXPORTS


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_lazy_name_resolves(package):
    module = importlib.import_module(package)
    for name, submodule in module._EXPORTS.items():
        assert getattr(module, name) is getattr(importlib.import_module(f"{package}.{submodule}"), name)


def test_an_unknown_name_is_an_attribute_error():
    module = importlib.import_module("qbtui.runs")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018 (the attribute access is what is tested)
