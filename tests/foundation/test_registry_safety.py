"""Issue 10: the registry is never forked, overwritten against its permissions, poisoned by a
long name or broken by a valid hand-written layout; CLI output to a closed stream is quiet."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from qbtui import mounts
from qbtui.registry import Registry, RegistryError, Training, friend_id_for

SETTINGS = """\
[settings]
datasets_dir = "datasets"
lora_dir = "loras"
logs_dir = "logs"
base_model = "models/base"
preset = "standard"

[presets.standard]
max_train_steps = 1200
"""

LAYOUTS = """\
[friends]
# Ada is written inline
ada = { name = "Ada", token = "qb_ada" } # inline Ada
# Cleo with dotted keys
cleo.name = "Cleo" # her name
cleo.token = "qb_cleo"
# after Cleo

[friends.ben]
name = "Ben" # Ben's name
token = "qb_ben"

# Dan, from school
[friends.dan]
name = "Dan"
token = "qb_dan"
"""


def training(run_id: str) -> Training:
    return Training(date="2026-12-01", steps=60, images=24, preset="standard", backend="builtin", run_id=run_id)


def comments(text: str) -> list[str]:
    return [line[line.index("#") :] for line in text.splitlines() if "#" in line]


@pytest.fixture
def layouts(tmp_path: Path) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS + "\n" + LAYOUTS)
    return path


# ---------------------------------------------------------------- item 3: links and permissions


def test_a_symlinked_registry_is_written_through_the_link(tmp_path: Path, run_cli) -> None:
    real = tmp_path / "real.toml"
    real.write_text(SETTINGS)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    code, _, err = run_cli("--registry", link, "add", "Sym")
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "sym" in tomllib.loads(real.read_text())["friends"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".qbtui-tmp")]


def test_the_read_only_registry_names_the_mount(tmp_path: Path, run_cli, monkeypatch) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS)
    path.chmod(0o444)
    monkeypatch.setattr(mounts, "read_only_mount", lambda where: True)
    try:
        code, _, err = run_cli("--registry", path, "add", "Ro")
    finally:
        path.chmod(0o644)
    assert code == 2 and "mounted read-only, which chmod cannot change: remount it read-write" in err
    assert "chmod u+w" not in err


def test_a_read_only_registry_is_not_overwritten(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS)
    path.chmod(0o444)
    try:
        code, _, err = run_cli("--registry", path, "add", "Ro")
        assert code == 2 and "read-only" in err and "chmod u+w" in err
        with pytest.raises(RegistryError, match="read-only"):
            Registry.load(path).record_training("x", training("r1"))
        assert path.read_text() == SETTINGS and oct(path.stat().st_mode & 0o777) == "0o444"
    finally:
        path.chmod(0o644)


# ---------------------------------------------------------------- item 4: long names


@pytest.mark.parametrize("length", [300, 240])
def test_a_name_too_long_for_a_derived_path_is_refused_before_anything_is_written(tmp_path: Path, run_cli, length) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS)
    code, _, err = run_cli("--registry", path, "add", "a" * length)
    assert code == 2 and "too long" in err and "nothing was written" in err
    assert path.read_text() == SETTINGS and not (tmp_path / "datasets").exists()


def test_a_multibyte_name_counts_bytes(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS)
    with pytest.raises(RegistryError, match="too long"):
        Registry.load(path).add_friend("é" * 120)  # 120 characters, 240 bytes
    Registry.load(path).add_friend("é" * 40)


def test_a_registry_already_holding_a_long_name_is_reported_not_a_crash(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "registry.toml"
    long_id = "b" * 300
    path.write_text(
        SETTINGS + f'\n[friends.{long_id}]\nname = "B"\ntoken = "qb_b"\n\n[friends.ok]\nname = "Ok"\ntoken = "qb_ok"\n'
    )
    for argv in (("status",), ("status", "--json"), ("check",), ("prep", "--all")):
        code, out, err = run_cli("--registry", path, *argv)
        assert "Traceback" not in err and code in (0, 1), (argv, err)
    code, out, _ = run_cli("--registry", path, "check")
    assert "name-too-long" in out


# ---------------------------------------------------------------- item 7: every layout


def test_recording_works_for_inline_dotted_and_section_friends(layouts: Path) -> None:
    before = layouts.read_text()
    registry = Registry.load(layouts)
    for friend_id in ("ada", "cleo", "ben"):
        registry.record_training(friend_id, training(f"run-{friend_id}"))
    text = layouts.read_text()
    values = tomllib.loads(text)
    for friend_id in ("ada", "cleo", "ben"):
        assert [t["run_id"] for t in values["friends"][friend_id]["trainings"]] == [f"run-{friend_id}"]
    assert sorted(comments(text)) == sorted(comments(before))
    assert values["friends"]["dan"] == {"name": "Dan", "token": "qb_dan"}
    assert Registry.load(layouts).friend("ada").last_training.run_id == "run-ada"


def test_a_new_training_lands_inside_its_friend_above_the_next_friends_comment(layouts: Path) -> None:
    Registry.load(layouts).record_training("ben", training("run-1"))
    Registry.load(layouts).record_training("ben", training("run-2"))
    text = layouts.read_text()
    assert text.index('run_id = "run-2"') < text.index("# Dan, from school") < text.index("[friends.dan]")
    assert text.split("# Dan, from school")[1].lstrip("\n").startswith("[friends.dan]")


def test_update_and_add_work_with_every_layout(layouts: Path) -> None:
    registry = Registry.load(layouts)
    registry.update_friend("ada", notes="inline no more")
    registry.update_friend("cleo", repeats=20)
    registry.add_friend("Eve")
    values = tomllib.loads(layouts.read_text())
    assert values["friends"]["ada"]["notes"] == "inline no more" and values["friends"]["cleo"]["repeats"] == 20
    assert values["friends"]["eve"]["token"] == "qb_eve"


def test_a_layout_qbtui_cannot_edit_fails_loudly_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "registry.toml"
    text = 'friends = { ada = { name = "Ada", token = "qb_ada" } }\n' + SETTINGS
    path.write_text(text)
    with pytest.raises(RegistryError) as caught:
        Registry.load(path).record_training("ada", training("r1"))
    assert "[friends.<id>]" in caught.value.fix
    assert path.read_text() == text


# ---------------------------------------------------------------- item 15: smaller


def test_a_crlf_registry_stays_crlf(layouts: Path) -> None:
    crlf = layouts.read_text().replace("\n", "\r\n").encode()
    layouts.write_bytes(crlf)
    registry = Registry.load(layouts)
    registry.add_friend("Mary Jane")
    registry.record_training("ada", training("r1"))
    data = layouts.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") and data.startswith(crlf[: crlf.index(b"[friends]")])
    assert "mary_jane" in tomllib.loads(data.decode())["friends"]


def test_a_bom_is_accepted_and_kept(layouts: Path, run_cli) -> None:
    layouts.write_bytes(b"\xef\xbb\xbf" + layouts.read_bytes())
    code, _, err = run_cli("--registry", layouts, "status")
    assert code == 0, err
    Registry.load(layouts).add_friend("Eve")
    data = layouts.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert "eve" in Registry.load(layouts).friends


@pytest.mark.parametrize(
    ("name", "friend_id", "token"),
    [("Mary Jane", "mary_jane", "qb_mary_jane"), ("O'Brien", "obrien", "qb_obrien"), ("Zoë Ann", "zoë_ann", "qb_zoe_ann")],
)
def test_names_with_inner_spaces_and_apostrophes_are_accepted(tmp_path: Path, run_cli, name, friend_id, token) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS)
    assert friend_id_for(name) == friend_id
    code, _, err = run_cli("--registry", path, "add", name)
    assert code == 0, err
    friend = Registry.load(path).friend(friend_id)
    assert friend.name == name and friend.token == token
    assert (tmp_path / "datasets" / friend_id / f"30_{friend_id}").is_dir()


def qbtui(*argv: str, stdout) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "qbtui", *argv], stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, check=False, timeout=60
    )


def test_output_to_a_full_device_is_one_line_not_a_traceback(demo_registry: Path) -> None:
    with open("/dev/full", "w") as full:
        result = qbtui("--registry", str(demo_registry), "status", stdout=full)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "qbtui: cannot write the output: No space left on device"


def test_output_to_a_closed_pipe_is_quiet(demo_registry: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as closed:
        result = qbtui("--registry", str(demo_registry), "registry", "table", stdout=closed)
    assert result.stderr == "" and result.returncode == 141


def test_a_datasets_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "registry.toml"
    path.write_text(SETTINGS)
    (tmp_path / "datasets").write_text("a file where the folder should be\n")
    code, _, err = run_cli("--registry", path, "add", "Eve")
    assert code == 2 and "could not create the folder" in err and "Traceback" not in err
