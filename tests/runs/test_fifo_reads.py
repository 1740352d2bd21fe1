"""Issue 24 item 3: a FIFO where qbtui reads a file (card, preview, face cache, trainer input cache)
never hangs a run or a command: it is skipped with a warning (qbtui.safefile)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from qbtui.rundir import RunDir, new_run_id
from qbtui.runs import manager
from qbtui.safefile import NotARegularFileError, open_regular, read_bytes

FINAL = ("completed", "stopped", "failed", "crashed")
BOUND_S = 120


def qbtui(registry: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, killed (and the test failed) after BOUND_S seconds."""
    argv = [sys.executable, "-m", "qbtui", "--registry", str(registry), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=BOUND_S, check=False)


def returns_within(call: Callable[[], object], fifo: Path, timeout: float = 30.0) -> object:
    """`call()`'s result; fails if it is still waiting after `timeout` s (then a writer releases it)."""
    result: list[object] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as error:  # noqa: BLE001 - raised again in the test's thread
            raised.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # lets the blocked open return
        thread.join(timeout)
        pytest.fail(f"still waiting on the FIFO {fifo} after {timeout} s")
    if raised:
        raise raised[0]
    return result[0] if result else None


def test_open_regular_refuses_a_fifo_a_folder_and_a_device_without_waiting(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "FIFO"), (tmp_path, "folder"), (Path("/dev/null"), "device")):
        with pytest.raises(NotARegularFileError, match=kind):
            returns_within(lambda path=path: open_regular(path), fifo)
    (tmp_path / "file").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    assert read_bytes(tmp_path / "link") == b"data"


def test_a_fifo_beside_the_lora_does_not_hold_a_finished_run(workspace, wait_for_state):
    card = workspace.settings.lora_dir / "qb_peter_lora.json"
    card.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(card)
    info = manager.start_run(workspace, "peter")
    done = wait_for_state(info.path, FINAL, timeout=BOUND_S)
    assert done.state == "completed", done.error
    assert stat.S_ISFIFO(card.lstat().st_mode)
    assert "FIFO" in (info.path / "events.jsonl").read_text()  # the card's warning names it
    second = manager.start_run(workspace, "peter", steps=2)  # the friend and the device are free
    assert wait_for_state(second.path, FINAL, timeout=BOUND_S).state == "completed"


def test_qbtui_cards_skips_a_fifo_card_or_preview(workspace, wait_for_state):
    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL, timeout=BOUND_S).state == "completed"
    loras = workspace.settings.lora_dir
    card = loras / "qb_peter_lora.json"
    card.unlink()
    os.mkfifo(card)
    result = qbtui(workspace.path, "cards", "peter")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"{card}: skipped" in result.stdout and "FIFO" in result.stdout
    card.unlink()
    for preview in loras.glob("qb_peter_lora*.png"):
        preview.unlink()
    os.mkfifo(loras / "qb_peter_lora.preview.jpg")
    result = qbtui(workspace.path, "cards", "peter")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "qb_peter_lora.preview.jpg stays" in result.stdout
    assert not (loras / "qb_peter_lora.png").exists(), "a picture under a UI's name (even a FIFO) is the person's: none added"


def test_qbtui_check_skips_a_fifo_in_the_face_cache(workspace):
    from qbtui.faces.analysis import cache_file_for
    from qbtui.registry import dataset_dir

    folder = dataset_dir(workspace.settings, workspace.friend("peter"))
    cache = cache_file_for(folder)
    cache.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(cache)
    result = qbtui(workspace.path, "check", "peter")
    assert "Traceback" not in result.stderr, result.stderr
    assert "peter" in result.stdout


def test_a_fifo_in_the_trainer_input_cache_is_a_miss(tmp_path):
    from qbtui.trainer.inputcache import InputCache, LatentKey

    cache = InputCache(tmp_path)
    key = LatentKey(photo_sha256="0" * 64, model_sha256="m", width=8, height=8, dtype="float32")
    path = cache.path_for(key)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    assert returns_within(lambda: cache.get(key), path) is None
    assert cache.rejected == 1


def test_a_fifo_where_a_lock_belongs_is_a_clear_error_not_a_wait(workspace):
    registry_lock = workspace.path.with_name("registry.toml.lock")
    os.mkfifo(registry_lock)
    result = qbtui(workspace.path, "add", "Zoe")
    assert result.returncode == 2 and "FIFO" in result.stderr and "Traceback" not in result.stderr, result.stderr
    registry_lock.unlink()
    device_lock = workspace.settings.logs_dir / ".locks" / "device.lock"
    device_lock.parent.mkdir(parents=True)
    os.mkfifo(device_lock)
    result = qbtui(workspace.path, "train", "peter")
    assert result.returncode == 2 and "FIFO" in result.stderr and "Traceback" not in result.stderr, result.stderr
    device_lock.unlink()
    queue_lock = workspace.settings.logs_dir / ".queue" / ".lock"
    queue_lock.unlink(missing_ok=True)  # the train above took the queue lock before the device lock
    os.mkfifo(queue_lock)
    result = qbtui(workspace.path, "train", "peter", "--queue", "--force", "--steps", "2")
    assert result.returncode == 2 and "FIFO" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert str(queue_lock) in result.stderr and "remove it: qbtui creates it" in result.stderr
    prep_lock = workspace.settings.datasets_dir / "peter" / ".qbtui-prep.lock"
    os.mkfifo(prep_lock)
    result = qbtui(workspace.path, "prep", "peter")
    assert result.returncode == 2 and "FIFO" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert str(prep_lock) in result.stderr and "remove it: qbtui creates it" in result.stderr


def test_qbtui_runs_and_logs_name_a_fifo_run_toml(workspace):
    run = RunDir(workspace.settings.logs_dir / "peter" / new_run_id("peter"))
    run.path.mkdir(parents=True)
    os.mkfifo(run.run_toml)
    result = qbtui(workspace.path, "runs")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"{run.run_toml}: is a FIFO (named pipe), not a regular file: the run is skipped" in result.stderr
    result = qbtui(workspace.path, "logs", run.run_id)
    assert result.returncode == 2 and f"{run.run_toml}: is a FIFO (named pipe)" in result.stderr, result.stderr
