"""DatasetWatcher: bursts debounced per friend, registry notices, folders appearing later."""

from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

from qbtui.dataset import DatasetWatcher
from qbtui.registry import dataset_dir

WAIT = 5.0


class Recorder:
    def __init__(self) -> None:
        self.events: queue.Queue[str] = queue.Queue()

    def friend(self, friend_id: str) -> None:
        self.events.put(f"friend:{friend_id}")

    def registry(self) -> None:
        self.events.put("registry")

    def next(self, timeout: float = WAIT) -> str:
        return self.events.get(timeout=timeout)

    def drain(self, settle: float = 0.6) -> list[str]:
        time.sleep(settle)
        found = []
        while not self.events.empty():
            found.append(self.events.get_nowait())
        return found


@pytest.fixture
def registry_file(settings) -> Path:
    path = settings.datasets_dir.parent / "registry.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[settings]\n", encoding="utf-8")
    return path


@pytest.fixture
def watching(settings, friend, registry_file):
    recorder = Recorder()
    watchers = []

    def start(friends=(friend,)):
        watcher = DatasetWatcher(registry_file, settings, friends, recorder.friend, recorder.registry)
        watcher.start()
        watchers.append(watcher)
        return recorder, watcher

    yield start
    for watcher in watchers:
        watcher.stop()


def test_a_burst_becomes_one_notice(settings, friend, folder, watching, photos):
    recorder, _ = watching()
    for index in range(15):
        photos.jpeg(folder / f"burst_{index}.jpg", seed=index, size=(64, 64))
        (folder / f"burst_{index}.txt").write_text("qb_peter person\n", encoding="utf-8")
    assert recorder.next() == "friend:peter"
    assert recorder.drain() == []


def test_reading_files_and_hidden_or_lock_files_are_ignored(settings, friend, folder, watching, registry_file):
    (folder / "a.txt").write_text("qb_peter person\n", encoding="utf-8")
    recorder, _ = watching()
    (folder / "a.txt").read_text(encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / ".a.txt.1234.qbtui-tmp").write_bytes(b"x")
    registry_file.with_name("registry.toml.lock").write_text("")
    assert recorder.drain(0.8) == []


def test_registry_save_via_rename_is_one_notice(settings, friend, folder, watching, registry_file):
    recorder, _ = watching()
    temp = registry_file.with_name(".registry.toml.tmp")
    temp.write_text("[settings]\n# edited\n", encoding="utf-8")
    temp.replace(registry_file)
    assert recorder.next() == "registry"
    assert recorder.drain() == []


def test_unknown_friend_is_ignored_until_watched(settings, friend, folder, watching):
    recorder, watcher = watching()
    other = settings.datasets_dir / "anna" / "30_anna"
    other.mkdir(parents=True)
    (other / "a.txt").write_text("x", encoding="utf-8")
    assert recorder.drain() == []
    watcher.watch_friends([friend, "anna"])
    time.sleep(0.3)
    (other / "b.txt").write_text("x", encoding="utf-8")
    assert recorder.next() == "friend:anna"


def test_friend_folder_appearing_later(settings, friend, watching):
    settings.datasets_dir.mkdir(parents=True)
    recorder, _ = watching()
    folder = dataset_dir(settings, friend)
    folder.mkdir(parents=True)
    (folder / "new.txt").write_text("qb_peter person\n", encoding="utf-8")
    assert recorder.next() == "friend:peter"


def test_datasets_dir_appearing_later(settings, friend, watching):
    assert not settings.datasets_dir.exists()
    recorder, _ = watching()
    folder = dataset_dir(settings, friend)
    folder.mkdir(parents=True)
    (folder / "new.txt").write_text("qb_peter person\n", encoding="utf-8")
    assert recorder.next() == "friend:peter"
    time.sleep(0.4)
    (folder / "later.txt").write_text("qb_peter person\n", encoding="utf-8")
    assert "friend:peter" in recorder.drain(0.8)


def test_a_long_burst_still_reports_every_max_wait(settings, friend, folder, registry_file):
    recorder = Recorder()
    watcher = DatasetWatcher(registry_file, settings, [friend], recorder.friend, recorder.registry, quiet=0.15, max_wait=0.4)
    with watcher:
        time.sleep(0.2)
        end = time.monotonic() + 2.0
        index = 0
        while time.monotonic() < end:
            (folder / f"copy_{index}.txt").write_text("qb_peter person\n", encoding="utf-8")
            index += 1
            time.sleep(0.05)
        during = recorder.drain(0.0)
    assert len(during) >= 2 and set(during) == {"friend:peter"}
