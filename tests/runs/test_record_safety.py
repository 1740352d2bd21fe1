"""Issue 10 items 4, 7, 10: a run is recorded whatever valid layout its friend has, or stays
'completed, not recorded' with the command that records it; a run that could not save its
LoRA or name its files is refused before anything is written."""

from __future__ import annotations

import tomllib

import pytest

from qbtui import cli
from qbtui.errors import QbtuiError
from qbtui.events import read_events
from qbtui.registry import Registry
from qbtui.runs import manager

FINAL = ("completed", "stopped", "failed", "crashed")
PETER_SECTION = """[friends.peter]
name = "Peter"
token = "qb_peter"
repeats = 30
describe = "man, curly hair"
notes = "hand-written note"
"""


def rewrite_peter(registry: Registry, layout: str) -> None:
    text = registry.path.read_text()
    assert PETER_SECTION in text
    registry.path.write_text(text.replace(PETER_SECTION, layout))


@pytest.mark.parametrize(
    "layout",
    [
        '[friends]\n# Peter, inline\npeter = { name = "Peter", token = "qb_peter", repeats = 30 } # inline\n',
        '[friends]\n# Peter, dotted\npeter.name = "Peter" # his name\npeter.token = "qb_peter"\npeter.repeats = 30\n',
    ],
    ids=["inline", "dotted"],
)
def test_a_run_of_an_inline_or_dotted_friend_is_recorded(workspace, wait_for_state, layout):
    rewrite_peter(workspace, layout)
    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL).state == "completed"
    text = workspace.path.read_text()
    (recorded,) = tomllib.loads(text)["friends"]["peter"]["trainings"]
    assert recorded["run_id"] == info.run_id and recorded["steps"] == 8
    for comment in [line[line.index("#") :] for line in layout.splitlines() if "#" in line]:
        assert comment in text
    assert not [e for e in read_events(info.path / "events.jsonl") if e["type"] == "warning"]


def test_a_refused_record_names_the_command_and_the_command_records_it(workspace, wait_for_state, capsys):
    workspace.path.chmod(0o444)
    try:
        info = manager.start_run(workspace, "peter")
        assert wait_for_state(info.path, FINAL).state == "completed"
    finally:
        workspace.path.chmod(0o644)
    (warning,) = [e for e in read_events(info.path / "events.jsonl") if e["type"] == "warning"]
    assert "completed, not recorded" in warning["message"] and f"qbtui record {info.run_id}" in warning["message"]
    assert "read-only" in warning["message"]
    assert Registry.load(workspace.path).friend("peter").trainings == ()
    capsys.readouterr()
    assert cli.main(["--registry", str(workspace.path), "record", info.run_id]) == 0
    assert capsys.readouterr().out == f"recorded run {info.run_id} as a training of peter\n"
    assert cli.main(["--registry", str(workspace.path), "record", info.run_id]) == 0
    assert capsys.readouterr().out == f"run {info.run_id} is already recorded as a training of peter\n"
    (training,) = Registry.load(workspace.path).friend("peter").trainings
    assert (training.run_id, training.steps, training.lora_file) == (info.run_id, 8, "qb_peter_lora.safetensors")


def test_a_read_only_lora_folder_is_refused_before_the_run_starts(workspace):
    lora_dir = workspace.settings.lora_dir
    lora_dir.mkdir(parents=True, exist_ok=True)
    lora_dir.chmod(0o555)
    try:
        with pytest.raises(QbtuiError) as caught:
            manager.start_run(workspace, "peter")
    finally:
        lora_dir.chmod(0o755)
    assert "LoRA folder is read-only" in caught.value.message and "chmod u+w" in caught.value.fix
    assert not (workspace.settings.logs_dir / "peter").exists()


def test_a_lora_folder_on_a_read_only_mount_says_so_instead_of_chmod(workspace, monkeypatch):
    from qbtui import mounts

    lora_dir = workspace.settings.lora_dir
    lora_dir.mkdir(parents=True, exist_ok=True)
    lora_dir.chmod(0o555)
    monkeypatch.setattr(mounts, "read_only_mount", lambda path: path == lora_dir)
    try:
        with pytest.raises(QbtuiError) as caught:
            manager.start_run(workspace, "peter")
    finally:
        lora_dir.chmod(0o755)
    assert caught.value.fix.startswith(f"{lora_dir} is on a file system mounted read-only, which chmod cannot change")
    assert "chmod u+w" not in caught.value.fix and "set lora_dir" in caught.value.fix


def test_a_friend_whose_names_are_too_long_is_refused_before_anything_is_written(workspace):
    long_id = "p" * 240
    with open(workspace.path, "a") as handle:
        handle.write(f'\n[friends.{long_id}]\nname = "P"\ntoken = "qb_p"\n')
    workspace.reload_if_changed()
    with pytest.raises(QbtuiError, match="too long"):
        manager.start_run(workspace, long_id, force=True)
    assert not (workspace.settings.logs_dir / long_id[:200]).exists()
    assert not any(workspace.settings.logs_dir.glob("p*"))


def test_a_refused_record_is_said_once_though_tried_at_done_and_at_the_exit(workspace, monkeypatch, wait_for, wait_for_state):
    """The supervisor records at the backend's `done` and again at its exit: the same refusal is one warning."""
    monkeypatch.setenv("STANDIN_MODE", "eval")  # after `done` the stand-in waits for release-eval
    workspace.path.chmod(0o444)
    try:
        info = manager.start_run(workspace, "peter")

        def warned():
            return [e for e in read_events(info.path / "events.jsonl") if e["type"] == "warning"]

        wait_for(warned, what="the refused record at done")
        (info.path / "release-eval").write_text("")
        assert wait_for_state(info.path, FINAL).state == "completed"
    finally:
        workspace.path.chmod(0o644)
    (warning,) = warned()
    assert "completed, not recorded" in warning["message"]


def test_a_hand_edited_token_too_long_for_its_checkpoint_names_is_refused_before_anything_is_written(workspace):
    """A 223-byte token fits the LoRA's own name but not its checkpoints' sidecars (`<stem>-step00000000.metadata.json`)."""
    long_token = "qb_" + "p" * 220
    workspace.path.write_text(workspace.path.read_text().replace('token = "qb_peter"', f'token = "{long_token}"', 1))
    workspace.reload_if_changed()
    assert workspace.friends["peter"].token == long_token
    lora_dir, logs_dir = workspace.settings.lora_dir, workspace.settings.logs_dir
    before = sorted(lora_dir.rglob("*")) if lora_dir.exists() else []
    with pytest.raises(QbtuiError) as caught:
        manager.start_run(workspace, "peter", force=True)
    text = caught.value.describe()
    assert str(workspace.path) in text and "friend peter" in text and "(limit 255)" in text
    assert "fix: set a shorter token for peter in registry.toml" in text
    assert not (logs_dir / "peter").exists() or not any((logs_dir / "peter").iterdir())
    assert (sorted(lora_dir.rglob("*")) if lora_dir.exists() else []) == before
