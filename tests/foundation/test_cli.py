"""Every core command against the demo workspace and against a registry commented on every line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qbtui.registry import Registry

GUIDE_PROMPT = (
    "<lora:qb_peter_lora:0.8>, qb_peter person climbing a tree, illustration in the style of Quentin Blake, watercolor, whimsical"
)
FRIEND_KEYS = {
    "id",
    "name",
    "token",
    "repeats",
    "folder",
    "images",
    "captions",
    "problems",
    "errors",
    "ready",
    "last_training",
    "latest_run",
}


def test_status_on_the_demo(run_cli, demo_registry: Path) -> None:
    code, out, _ = run_cli("--registry", demo_registry, "status")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert rows["Ada"][1:4] == ["qb_ada", "24", "24"] and rows["Ada"][5] == "ready"
    assert rows["Ben"][5] == "blocked" and int(rows["Ben"][4]) >= 15
    assert rows["Cleo"][1:4] == ["qb_cleo", "8", "8"] and rows["Cleo"][5] == "blocked"
    # the face checks count too (qbtui check's count; the demo's drawings may have no face)
    assert int(rows["Cleo"][4]) in (1, 2)


def test_status_json_shape(run_cli, demo_registry: Path) -> None:
    code, out, _ = run_cli("--registry", demo_registry, "status", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["registry"] == str(demo_registry)
    assert [friend["id"] for friend in payload["friends"]] == ["ada", "ben", "cleo"]
    assert all(set(friend) == FRIEND_KEYS for friend in payload["friends"])
    ada = payload["friends"][0]
    assert (ada["images"], ada["ready"], ada["last_training"], ada["latest_run"]) == (24, True, None, None)


def test_status_json_reports_the_last_training(run_cli, commented_registry: Path) -> None:
    code, out, _ = run_cli("--registry", commented_registry, "status", "--json")
    peter = json.loads(out)["friends"][0]
    assert code == 0
    assert peter["last_training"] == {
        "date": "2025-08-10",
        "steps": 1200,
        "images": 35,
        "preset": "standard",
        "backend": "kohya",
        "lora_file": "qb_peter_lora.safetensors",
        "notes": "Initial training",
        "run_id": "",
        "card": None,
        "preview": None,
    }
    assert peter["images"] == 0 and peter["ready"] is False


def test_add_writes_the_friend_and_the_folder(
    run_cli, commented_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    original = commented_registry.read_text()
    code, out, _ = run_cli(
        "--registry", commented_registry, "add", "Maria", "--describe", "woman, long dark hair", "--repeats", "20"
    )
    assert code == 0 and "qb_maria" in out
    assert (tmp_path / "home/datasets/friends/maria/20_maria").is_dir()
    maria = Registry.load(commented_registry).friends["maria"]
    assert (maria.name, maria.repeats, maria.describe) == ("Maria", 20, "woman, long dark hair")
    remaining = iter(commented_registry.read_text().splitlines())
    assert all(line in remaining for line in original.splitlines())


def test_add_on_the_demo_with_a_token(run_cli, demo_registry: Path) -> None:
    code, _, _ = run_cli("--registry", demo_registry, "add", "Dora", "--token", "qb_dora_x", "--notes", "new")
    assert code == 0
    assert Registry.load(demo_registry).friends["dora"].token == "qb_dora_x"
    assert (demo_registry.parent / "datasets/dora/30_dora").is_dir()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "../evil"], "path separator"),
        (["add", ".hidden"], "starts with a dot"),
        (["add", "Peter "], "starts or ends with a space"),
        (["add", ""], "empty"),
        (["add", "peter"], "already exists"),
        (["add", "Pete", "--token", "QB_PETER"], "already used by 'peter'"),
        (["add", "Pete", "--repeats", "0"], "at least 1"),
    ],
)
def test_add_rejections_write_nothing(
    run_cli, commented_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = commented_registry.read_bytes()
    code, _out, err = run_cli("--registry", commented_registry, *argv)
    assert code == 2 and message in err and str(commented_registry) in err and "fix:" in err
    assert commented_registry.read_bytes() == before
    assert not (tmp_path / "home").exists()


def test_registry_table_is_the_guides(run_cli, commented_registry: Path) -> None:
    run_cli("--registry", commented_registry, "add", "Maria")
    code, out, _ = run_cli("--registry", commented_registry, "registry", "table")
    assert code == 0
    assert out.splitlines() == [
        "| Name | Token | Date Trained | Steps | Images | Likeness | Notes | Card |",
        "|------|-------|--------------|-------|--------|----------|-------|------|",
        "| Peter | qb_peter | 2025-08-10 | 1200 | 35 |  | Initial training |  |",
        "| Maria | qb_maria |  |  |  |  |  |  |",
    ]


def test_prompt(run_cli, commented_registry: Path, demo_registry: Path) -> None:
    code, out, _ = run_cli("--registry", commented_registry, "prompt", "Peter climbing a tree")
    assert (code, out.strip()) == (0, GUIDE_PROMPT)
    code, out, _ = run_cli("--registry", demo_registry, "prompt", "--weight", "0.6", "Ada", "and", "Cleo's", "cat")
    assert out.strip().startswith("<lora:qb_ada_lora:0.6>, <lora:qb_cleo_lora:0.6>, qb_ada person and qb_cleo person's cat, ")


def test_prompt_rejects_a_weight_that_is_not_a_number(run_cli, commented_registry: Path) -> None:
    code, _, err = run_cli("--registry", commented_registry, "prompt", "--weight", "nan", "Peter")
    assert code == 2 and "--weight must be a number above 0 and at most 2, found nan" in err


def test_locate(run_cli, demo_registry: Path, isolated_user_dirs: Path) -> None:
    code, out, _ = run_cli("--registry", demo_registry, "locate")
    assert code == 0
    assert f"registry:    {demo_registry}" in out
    assert f"config dir:  {isolated_user_dirs}" in out
    assert f"logs dir:    {demo_registry.parent / 'logs'}" in out
    assert str(demo_registry.parent / "themes") in out and str(isolated_user_dirs / "themes") in out
    assert "\ntokenizer:   " in out


def test_locate_lists_every_tokenizer_place_looked(run_cli, commented_registry: Path, tmp_path: Path, monkeypatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    text = commented_registry.read_text().replace('device = "auto"', 'device = "auto"\ncomfyui_dir = "comfy-install"', 1)
    commented_registry.write_text(text)
    code, out, _ = run_cli("--registry", commented_registry, "locate")
    assert code == 0 and "tokenizer:   not found; looked in, in order:" in out
    assert f"  ComfyUI (comfyui_dir): {tmp_path / 'comfy-install' / 'comfy' / 'sd1_tokenizer'}" in out
    assert f"  ComfyUI: {tmp_path / 'home' / 'ComfyUI' / 'comfy' / 'sd1_tokenizer'}" in out
    (tmp_path / "comfy-install" / "comfy" / "sd1_tokenizer").mkdir(parents=True)
    for name in ("vocab.json", "merges.txt"):
        (tmp_path / "comfy-install" / "comfy" / "sd1_tokenizer" / name).write_text("{}")
    code, out, _ = run_cli("--registry", commented_registry, "locate")
    assert f"tokenizer:   {tmp_path / 'comfy-install' / 'comfy' / 'sd1_tokenizer'} (ComfyUI (comfyui_dir))" in out


def test_an_invalid_registry_is_reported_with_line_and_fix(run_cli, commented_registry: Path) -> None:
    commented_registry.write_text(commented_registry.read_text().replace("lora_weight = 0.8", 'lora_weight = "high"'))
    code, _, err = run_cli("--registry", commented_registry, "status")
    assert code == 2
    assert f"{commented_registry}:17: settings.lora_weight: expected a number" in err and "fix: write it as 0.8" in err


def test_bare_qbtui_opens_the_dashboard(run_cli, demo_registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qbtui.tui

    opened: list[Path] = []
    monkeypatch.setattr(qbtui.tui, "run_app", lambda path: opened.append(Path(path)) or 0)
    code, _, _ = run_cli("--registry", demo_registry)
    assert code == 0 and opened == [demo_registry]


def test_demo_command_builds_and_opens(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qbtui.demo
    import qbtui.tui

    models: list[Path] = []
    monkeypatch.setattr(qbtui.demo, "build_tiny_model", lambda target: models.append(target) or target.mkdir(parents=True))
    opened: list[Path] = []
    monkeypatch.setattr(qbtui.tui, "run_app", lambda path: opened.append(Path(path)) or 0)
    code, out, _ = run_cli("demo", "--no-open", tmp_path / "d")
    assert code == 0 and "qbtui --registry" in out and opened == []
    assert Registry.load(tmp_path / "d/registry.toml").settings.preset == "demo"
    code, _, _ = run_cli("demo", tmp_path / "d")
    assert code == 0 and opened == [tmp_path / "d/registry.toml"] and len(models) == 1


@pytest.mark.parametrize("command", [["status"], ["add"], ["registry", "table"], ["prompt"], ["demo"], ["locate"]])
def test_every_command_has_help_with_an_example(run_cli, command: list[str]) -> None:
    code, out, _ = run_cli(*command, "--help")
    assert code == 0 and "example:\n  qbtui " in out


def test_bare_qbtui_without_any_registry_starts_from_the_starter(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_user_dirs: Path
) -> None:
    import qbtui.tui

    monkeypatch.chdir(tmp_path)
    opened: list[Path] = []
    monkeypatch.setattr(qbtui.tui, "run_app", lambda path: opened.append(Path(path)) or 0)
    code, _, err = run_cli()
    assert code == 0 and opened == [isolated_user_dirs / "registry.toml"]
    assert f"created a starter registry at {opened[0]}" in err
    assert Registry.load(opened[0]).friends == {}


def test_registry_table_on_the_demo_and_locate_on_the_commented_registry(
    run_cli, demo_registry: Path, commented_registry: Path
) -> None:
    code, out, _ = run_cli("--registry", demo_registry, "registry", "table")
    assert code == 0 and out.splitlines()[2:] == [
        "| Ada | qb_ada |  |  |  |  |  |  |",
        "| Ben | qb_ben |  |  |  |  |  |  |",
        "| Cleo | qb_cleo |  |  |  |  |  |  |",
    ]
    code, out, _ = run_cli("--registry", commented_registry, "locate")
    assert code == 0 and f"registry:    {commented_registry}" in out
    assert f"datasets:    {Path.home() / 'datasets/friends'}" in out
