"""The model processes' environment is one fact: every entry point applies it, none writes its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from qbtui.modelenv import MODEL_ENVIRONMENT

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_sets_a_model_variable_itself():
    for path in (ROOT / "qbtui").rglob("*.py"):
        if path.name == "modelenv.py":
            continue
        text = path.read_text(encoding="utf-8")
        for name in MODEL_ENVIRONMENT:
            assert f'"{name}"' not in text, f"{path.relative_to(ROOT)} names {name}: call prepare_model_environment()"


def test_importing_the_model_loader_changes_no_environment():
    env = {key: value for key, value in os.environ.items() if key not in MODEL_ENVIRONMENT}
    probe = "import os, qbtui.trainer.models; print(os.environ.get('HF_HUB_OFFLINE', 'unset'))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert result.stdout.strip() == "unset"


def test_a_users_own_setting_is_kept(monkeypatch):
    from qbtui.modelenv import prepare_model_environment

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    for name in MODEL_ENVIRONMENT:
        if name != "HF_HUB_OFFLINE":
            monkeypatch.delenv(name, raising=False)
    prepare_model_environment()
    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"
