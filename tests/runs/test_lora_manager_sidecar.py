"""ComfyUI-LoRA-Manager shows the trigger phrase and weight from the `<stem>.metadata.json` qbtui writes once.

`lora_manager_scan` follows willmiao/ComfyUI-Lora-Manager (2026-08, 25e72b43):
py/utils/metadata_manager.py `load_metadata` (the sidecar is `<stem>.metadata.json`; a file
that does not build `BaseModelMetadata` from py/utils/models.py, whose fields file_name,
model_name, file_path, size, modified, sha256, base_model and preview_url have no default,
makes the scanner skip the LoRA), py/services/model_scanner.py `_process_model_file` (an
empty `sha256` is computed from the file and the sidecar saved back with every key), and the
trigger words and strength as py/services/lora_service.py reads them (`civitai.trainedWords`,
`usage_tips` JSON `strength`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from qbtui.cards import CardFacts, update_lora_manager_card
from qbtui.registry import Friend
from qbtui.trainer.metadata import save_lora

REQUIRED = ("file_name", "model_name", "file_path", "size", "modified", "sha256", "base_model", "preview_url")


def lora_manager_scan(lora: Path) -> dict | None:
    """What LoRA Manager's scan makes of the sidecar: None when it would skip the LoRA; the file as it saves it back."""
    sidecar = lora.with_name(f"{lora.stem}.metadata.json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or any(field not in data for field in REQUIRED):
        return None
    if not data["sha256"]:
        data["sha256"] = hashlib.sha256(lora.read_bytes()).hexdigest()
        sidecar.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


def facts(weight=0.7) -> CardFacts:
    friend = Friend(id="ada", name="Ada", token="qb_ada")
    return CardFacts(friend=friend, weight=weight, date="2026-12-06", steps=60, images=24, run_id="r1")


def test_lora_manager_takes_up_the_sidecar_and_keeps_the_trigger_and_weight(tmp_path):
    lora = save_lora(tmp_path / "qb_ada_lora.safetensors", {"a.alpha": torch.tensor(1.0)}, {})
    (tmp_path / "qb_ada_lora.png").write_bytes(b"picture")
    outcome = update_lora_manager_card(lora, facts())
    assert (outcome.path.name, outcome.action) == ("qb_ada_lora.metadata.json", "written")
    scanned = lora_manager_scan(lora)
    assert scanned is not None, "LoRA Manager would skip the LoRA"
    assert scanned["civitai"]["trainedWords"] == ["qb_ada person"]
    assert json.loads(scanned["usage_tips"])["strength"] == 0.7
    assert scanned["base_model"] == "SD 1.5" and scanned["preview_url"] == (tmp_path / "qb_ada_lora.png").as_posix()
    assert scanned["sha256"] == hashlib.sha256(lora.read_bytes()).hexdigest()
    rewritten = lora.with_name("qb_ada_lora.metadata.json").read_bytes()
    again = update_lora_manager_card(lora, facts(weight=0.9))
    assert again.action == "kept" and lora.with_name("qb_ada_lora.metadata.json").read_bytes() == rewritten
    assert not [path.name for path in tmp_path.iterdir() if path.name.endswith(".qbtui-tmp")]


def test_a_persons_sidecar_or_a_symlink_there_is_never_replaced(tmp_path):
    lora = save_lora(tmp_path / "qb_ada_lora.safetensors", {"a.alpha": torch.tensor(1.0)}, {})
    sidecar = tmp_path / "qb_ada_lora.metadata.json"
    sidecar.write_text('{"mine": true}')
    assert update_lora_manager_card(lora, facts()).action == "kept" and sidecar.read_text() == '{"mine": true}'
    sidecar.unlink()
    elsewhere = tmp_path / "elsewhere.json"
    sidecar.symlink_to(elsewhere)
    assert update_lora_manager_card(lora, facts()).action == "kept" and not elsewhere.exists()


def test_the_sidecar_names_the_picture_before_it_exists_so_lora_manager_finds_it_later(tmp_path):
    """py/utils/metadata_manager.py `_normalize_metadata_paths`: a `preview_url` that does not exist is looked up again
    with `find_preview_file`; an empty one never is."""
    lora = save_lora(tmp_path / "qb_ada_lora-step00000004.safetensors", {"a.alpha": torch.tensor(1.0)}, {})
    update_lora_manager_card(lora, facts())
    preview_url = lora_manager_scan(lora)["preview_url"]
    assert preview_url == (tmp_path / "qb_ada_lora-step00000004.png").as_posix() and not Path(preview_url).exists()
