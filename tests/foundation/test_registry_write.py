"""Editing registry.toml: comments and layout survive, writes are atomic, locked and never lost."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomlkit

from qbtui.registry import Registry, RegistryError, Training

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "registry.toml"


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    path = tmp_path / "registry.toml"
    path.write_bytes(REPO_REGISTRY.read_bytes())
    return path


def _is_subsequence(old: list[str], new: list[str]) -> bool:
    remaining = iter(new)
    return all(line in remaining for line in old)


def test_tomlkit_round_trip_is_byte_for_byte(commented_text: str) -> None:
    text = REPO_REGISTRY.read_text()
    assert tomlkit.dumps(tomlkit.parse(text)) == text
    commented = commented_text
    assert tomlkit.dumps(tomlkit.parse(commented)) == commented


def test_setting_the_same_value_writes_nothing(repo_copy: Path) -> None:
    before = repo_copy.stat().st_mtime_ns
    Registry.load(repo_copy).set_setting("lora_weight", 0.8)
    assert repo_copy.stat().st_mtime_ns == before


def test_set_setting_changes_one_line_and_keeps_its_comment(commented_registry: Path) -> None:
    path = commented_registry
    original = path.read_text()
    registry = Registry.load(path)
    registry.set_setting("lora_weight", 0.65)
    registry.set_setting("lora_dir", Path("~/loras"))
    changed = [(a, b) for a, b in zip(original.splitlines(), path.read_text().splitlines(), strict=True) if a != b]
    assert len(path.read_text().splitlines()) == len(original.splitlines())
    assert [b for _, b in changed] == ['lora_dir = "~/loras"  # note 9', "lora_weight = 0.65  # note 17"]
    assert registry.settings.lora_weight == 0.65
    assert registry.settings.lora_dir == Path.home() / "loras"


def test_add_keeps_every_comment(commented_registry: Path) -> None:
    path = commented_registry
    original = path.read_text()
    registry = Registry.load(path)
    maria = registry.add_friend("Maria", describe="woman, long dark hair", notes="from work")
    new_text = path.read_text()
    assert _is_subsequence(original.splitlines(), new_text.splitlines())
    assert (maria.id, maria.token, maria.repeats) == ("maria", "qb_maria", 30)
    reloaded = Registry.load(path)
    assert reloaded.friends["maria"] == maria
    assert reloaded.friends["peter"] == Registry.load(REPO_REGISTRY).friends["peter"]


def test_record_training_appends_once_per_run_id(repo_copy: Path) -> None:
    registry = Registry.load(repo_copy)
    training = Training("2026-01-02", 1200, 30, "fast", "builtin", "qb_peter_lora.safetensors", "second", "20260102-1")
    registry.record_training("peter", training)
    registry.record_training("peter", training)
    peter = Registry.load(repo_copy).friends["peter"]
    assert peter.trainings[-1] == training and len(peter.trainings) == 2
    assert peter.last_training == training
    registry.add_friend("Ann")
    registry.record_training("ann", Training("2026-01-03", 60, 20, run_id="r9"))
    assert Registry.load(repo_copy).friends["ann"].trainings == (Training("2026-01-03", 60, 20, run_id="r9"),)


def test_update_friend_keeps_comments_and_checks_tokens(commented_registry: Path) -> None:
    path = commented_registry
    registry = Registry.load(path)
    registry.add_friend("Ann")
    updated = registry.update_friend("peter", describe="man, beard", repeats=20)
    assert (updated.describe, updated.repeats) == ("man, beard", 20)
    assert "repeats = 20  # note 118" in path.read_text()
    assert 'describe = "man, beard"  # note 120' in path.read_text()
    before = path.read_bytes()
    with pytest.raises(RegistryError, match="already used by 'ann'"):
        registry.update_friend("peter", token="QB_ANN")
    with pytest.raises(RegistryError, match="cannot update 'trainings'"):
        registry.update_friend("peter", trainings=())
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../evil"}, "path separator"),
        ({"name": ".hidden"}, "starts with a dot"),
        ({"name": " Peter"}, "starts or ends with a space"),
        ({"name": "a\0b"}, "NUL"),
        ({"name": "'?!"}, "no letter or digit"),
        ({"name": "PETER"}, "already exists"),
        ({"name": "Pete", "token": "qb_peter"}, "already used by 'peter'"),
        ({"name": "Pete", "token": "qb pete"}, "must be one word"),
        ({"name": "Pete", "repeats": 0}, "at least 1"),
    ],
)
def test_add_rejections_write_nothing(repo_copy: Path, kwargs: dict, message: str) -> None:
    before = repo_copy.read_bytes()
    with pytest.raises(RegistryError, match=message):
        Registry.load(repo_copy).add_friend(**kwargs)
    assert repo_copy.read_bytes() == before


def test_unknown_setting_suggests_the_right_one(repo_copy: Path) -> None:
    with pytest.raises(RegistryError) as caught:
        Registry.load(repo_copy).set_setting("lora_wieght", 1.0)
    assert "lora_weight" in caught.value.fix


def test_an_invalid_value_is_refused_before_writing(repo_copy: Path) -> None:
    before = repo_copy.read_bytes()
    with pytest.raises(RegistryError, match="not one of builtin, kohya"):
        Registry.load(repo_copy).set_setting("backend", "comfy")
    assert repo_copy.read_bytes() == before


def test_edits_start_from_the_file_on_disk(repo_copy: Path) -> None:
    first, second = Registry.load(repo_copy), Registry.load(repo_copy)
    first.add_friend("Ann")
    second.add_friend("Bob")
    assert {"peter", "ann", "bob"} <= Registry.load(repo_copy).friends.keys()
    assert "ann" in second.friends


def test_file_mode_is_kept(repo_copy: Path) -> None:
    os.chmod(repo_copy, 0o600)
    Registry.load(repo_copy).add_friend("Ann")
    assert repo_copy.stat().st_mode & 0o777 == 0o600


def _add_many(path: str, prefix: str, count: int) -> None:
    registry = Registry.load(path)
    for index in range(count):
        registry.add_friend(f"{prefix}{index}")
        registry.record_training("peter", Training("2026-01-01", 1, 1, run_id=f"{prefix}-{index}"))


def test_concurrent_writers_lose_nothing(repo_copy: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_add_many, args=(str(repo_copy), prefix, 6)) for prefix in ("a", "b", "c")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    registry = Registry.load(repo_copy)
    assert {f"{prefix}{index}" for prefix in "abc" for index in range(6)} <= registry.friends.keys()
    run_ids = [training.run_id for training in registry.friends["peter"].trainings]
    assert sorted(run_ids[1:]) == sorted(f"{prefix}-{index}" for prefix in "abc" for index in range(6))


SLOW_WRITER = """
import os, sys, time
from qbtui import atomicfile
from qbtui.registry import Registry

def stall(fd):
    open(sys.argv[2], "w").close()
    time.sleep(60)
atomicfile.os.fsync = stall
Registry.load(sys.argv[1]).add_friend("Killed")
"""


def test_a_killed_writer_leaves_the_registry_whole(repo_copy: Path, tmp_path: Path) -> None:
    before = repo_copy.read_bytes()
    marker = tmp_path / "writing"
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(repo_copy), str(marker)])
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline, "writer never reached the save"
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert repo_copy.read_bytes() == before
    registry = Registry.load(repo_copy)
    registry.add_friend("After")
    assert "after" in Registry.load(repo_copy).friends


def test_none_removes_an_optional_setting_only(repo_copy: Path) -> None:
    registry = Registry.load(repo_copy)
    before = repo_copy.read_text()
    registry.set_setting("tokenizer", "~/tok")
    assert registry.settings.tokenizer == Path.home() / "tok"
    registry.set_setting("tokenizer", None)
    assert registry.settings.tokenizer is None and repo_copy.read_text() == before
    with pytest.raises(RegistryError, match="cannot be removed"):
        registry.set_setting("datasets_dir", None)


def test_a_failed_save_changes_nothing(repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import qbtui.registry.store

    def disk_full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    registry = Registry.load(repo_copy)
    before = repo_copy.read_bytes()
    monkeypatch.setattr(qbtui.registry.store, "write_text_atomic", disk_full)
    with pytest.raises(RegistryError, match="No space left") as caught:
        registry.add_friend("Ann")
    assert "unchanged" in caught.value.fix
    assert "ann" not in registry.friends and repo_copy.read_bytes() == before


def test_friends_split_by_another_table_are_still_recorded_and_edited(tmp_path: Path) -> None:
    """`[friends.a]`, then `[hosts.gpu]`, then `[friends.b]`: tomlkit hands back an out-of-order proxy for
    `friends`; recording a training, a choice and an edit must still work for both friends."""
    path = tmp_path / "registry.toml"
    path.write_text(
        REPO_REGISTRY.read_text(encoding="utf-8")
        + '\n[hosts.gpu]\nssh = "gpu"\n\n[friends.zed]\nname = "Zed"\ntoken = "qb_zed"\n',
        encoding="utf-8",
    )
    registry = Registry.load(path)
    for friend_id in ("zed", "peter"):
        registry.record_training(friend_id, Training("2026-01-02", 60, 20, run_id=f"r-{friend_id}"))
        registry.update_friend(friend_id, describe="person, smiling")
    loaded = Registry.load(path)
    assert loaded.friends["zed"].trainings == (Training("2026-01-02", 60, 20, run_id="r-zed"),)
    assert loaded.friends["peter"].last_training.run_id == "r-peter"
    assert loaded.friends["zed"].describe == "person, smiling" and "gpu" in loaded.hosts
