"""Files between this machine and a host: photos and base model out, LoRA files back.

On the host, everything lives under its work folder:
`models/<hash>/<name>` (the base model, copied once and reused while its hash matches),
`datasets/<friend>/<N_friend>/` (the training folder, mirrored), `logs/<friend>/<run id>/`
(the run) and `loras/` (checkpoints, samples and the final LoRA, copied back into
`lora_dir`). Only the friend's training folder is copied out, never `originals/`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from qbtui import locations
from qbtui.atomicfile import write_text_atomic
from qbtui.remote.ssh import Transport
from qbtui.safefile import open_regular, read_text

HASH_CHUNK = 8 * 1024 * 1024
# The run.toml the host's run directory gets, kept in the local run directory until then.
REMOTE_RUN_TOML = "remote-run.toml"


@dataclass(frozen=True)
class RemoteLayout:
    """Where a run's files live on the host (POSIX paths under the absolute work folder)."""

    work_dir: PurePosixPath

    def model(self, model_hash: str, local_model: Path) -> PurePosixPath:
        return self.work_dir / "models" / model_hash / local_model.name

    def training_folder(self, friend_id: str, folder_name: str) -> PurePosixPath:
        return self.work_dir / "datasets" / friend_id / folder_name

    def run_dir(self, friend_id: str, run_id: str) -> PurePosixPath:
        return self.work_dir / "logs" / friend_id / run_id

    @property
    def lora_dir(self) -> PurePosixPath:
        return self.work_dir / "loras"


def model_hash(path: Path) -> str:
    """A short content hash of a model file, or of a diffusers folder's files; cached by size and mtime."""
    path = path.resolve()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    key = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    cache_file = locations.user_cache_dir() / "model-hashes.json"
    try:
        cache = json.loads(read_text(cache_file))
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache, dict) and cache.get(str(path), {}).get("key") == key:
        return str(cache[str(path)]["hash"])
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode() + b"\0")
        with open_regular(file) as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    value = digest.hexdigest()[:16]
    cache = cache if isinstance(cache, dict) else {}
    cache[str(path)] = {"key": key, "hash": value}
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cache_file, json.dumps(cache, indent=1))
    return value


def push_folder(transport: Transport, local: Path, remote: PurePosixPath) -> None:
    """Mirror a local folder's files into `remote` on the host (files gone here go there too)."""
    transport.run(["mkdir", "-p", str(remote)])
    transport.rsync([f"{local}/"], f":{remote}/", options=["--delete", "--exclude=.qbtui-*"])


def push_model(transport: Transport, local: Path, remote: PurePosixPath) -> None:
    """Copy the base model (a file or a diffusers folder) to `remote`; a copy already there is kept."""
    transport.run(["mkdir", "-p", str(remote.parent)])
    source = f"{local}/" if local.is_dir() else str(local)
    target = f":{remote}/" if local.is_dir() else f":{remote}"
    transport.rsync([source], target)


def pull_outputs(transport: Transport, remote_lora_dir: PurePosixPath, local_lora_dir: Path, output_name: str) -> None:
    """Copy this run's LoRA files, checkpoints, sidecars and samples back into `lora_dir`."""
    local_lora_dir.mkdir(parents=True, exist_ok=True)
    filters = [
        f"--include=/{output_name}.*",
        f"--include=/{output_name}-*",
        "--include=/sample/",
        f"--include=/sample/{output_name}_*",
        "--exclude=*",
    ]
    transport.rsync([f":{remote_lora_dir}/"], f"{local_lora_dir}{os.sep}", options=filters)


def pull_evaluation(
    transport: Transport, remote_run_dir: PurePosixPath, local_run_dir: Path, eval_json: str, eval_folder: str
) -> bool:
    """Copy a run's likeness pass (its eval.json and sample folder) back; False when the host's run has none."""
    filters = [f"--include=/{eval_json}", f"--include=/{eval_folder}/", f"--include=/{eval_folder}/*", "--exclude=*"]
    transport.rsync([f":{remote_run_dir}/"], f"{local_run_dir}{os.sep}", options=filters)
    return (local_run_dir / eval_json).is_file()


def replace_paths(value: Any, mapping: dict[str, str]) -> Any:
    """`value` with every string starting with a mapped prefix rewritten (longest prefix first)."""
    if isinstance(value, str):
        for prefix in sorted(mapping, key=len, reverse=True):
            if value == prefix or value.startswith(prefix + "/"):
                return mapping[prefix] + value[len(prefix) :]
        return value
    if isinstance(value, dict):
        return {key: replace_paths(item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_paths(item, mapping) for item in value]
    return value
