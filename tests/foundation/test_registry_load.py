"""Loading registry.toml: typed values, resolved paths, and errors naming key, line and fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qbtui.registry import Registry, RegistryError, Training, dataset_dir, locate_registry

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "registry.toml"
STARTER_REGISTRY = Path(__file__).resolve().parents[2] / "qbtui" / "starter_registry.toml"

GUIDE_STANDARD_FLAGS = {
    "caption_extension": ".txt",
    "resolution": "512,512",
    "network_module": "networks.lora",
    "network_dim": 16,
    "network_alpha": 8,
    "learning_rate": 1e-4,
    "text_encoder_lr": 5e-5,
    "optimizer_type": "AdamW",
    "lr_scheduler": "cosine",
    "max_train_steps": 1200,
    "train_batch_size": 1,
    "gradient_checkpointing": True,
    "mixed_precision": "no",
    "save_every_n_steps": 400,
    "save_model_as": "safetensors",
}


def test_repo_registry_carries_the_guide() -> None:
    registry = Registry.load(REPO_REGISTRY)
    home = Path.home()
    assert registry.settings.datasets_dir == home / "datasets/friends"
    assert registry.settings.lora_dir == home / "stable-diffusion-webui/models/Lora"
    assert registry.settings.base_model.name == "v1-5-pruned-emaonly.safetensors"
    assert registry.settings.lora_weight == 0.8
    assert registry.settings.preset == "standard"
    assert registry.presets["standard"].flags == GUIDE_STANDARD_FLAGS
    fast = dict(GUIDE_STANDARD_FLAGS, mixed_precision="fp16")
    del fast["gradient_checkpointing"]
    fast.update(
        cache_latents=True, persistent_data_loader_workers=True, max_data_loader_n_workers=4, network_train_unet_only=True
    )
    assert registry.presets["fast"].flags == fast
    quality = registry.presets["quality"]
    assert (quality.max_train_steps, quality.network_dim, quality.network_alpha) == (3000, 32, 16)
    peter = registry.friends["peter"]
    assert (peter.name, peter.token, peter.repeats, peter.output_name) == ("Peter", "qb_peter", 30, "qb_peter_lora")
    assert peter.trainings == (
        Training("2025-08-10", 1200, 35, "standard", "kohya", "qb_peter_lora.safetensors", "Initial training"),
    )
    assert dataset_dir(registry.settings, peter) == home / "datasets/friends/peter/30_peter"


def test_starter_registry_has_the_repo_settings_and_presets() -> None:
    starter, repo = Registry.load(STARTER_REGISTRY), Registry.load(REPO_REGISTRY)
    assert starter.settings == repo.settings
    assert starter.presets == repo.presets
    assert starter.friends == {}


def test_relative_and_home_paths_resolve(registry_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(registry_path.parent / "home"))
    text = registry_path.read_text().replace('lora_dir = "loras"', 'lora_dir = "~/loras"\ntokenizer = "../tok"')
    registry_path.write_text(text)
    registry = Registry.load(registry_path)
    assert registry.settings.datasets_dir == registry_path.parent / "datasets"
    assert registry.settings.tokenizer == registry_path.parent.parent / "tok"
    assert registry.settings.lora_dir == registry_path.parent / "home" / "loras"
    assert registry.settings.base_model == registry_path.parent / "models" / "base"


@pytest.mark.parametrize("key", ["tokenizer", "tokenizer_cache_dir", "comfyui_dir"])
def test_a_tokenizer_folder_setting_naming_a_file_is_refused(registry_path: Path, key: str) -> None:
    (registry_path.parent / "a-file").write_text("not a folder")
    registry_path.write_text(registry_path.read_text().replace('lora_dir = "loras"', f'lora_dir = "loras"\n{key} = "a-file"'))
    with pytest.raises(RegistryError, match=f"settings.{key}: .*a-file is a file, not a folder") as caught:
        Registry.load(registry_path)
    assert caught.value.line is not None and "folder" in (caught.value.fix or "")


def test_reload_if_changed_notices_edits(registry_path: Path) -> None:
    registry = Registry.load(registry_path)
    assert registry.reload_if_changed() is False
    with open(registry_path, "a") as handle:
        handle.write('\n[friends.ann]\nname = "Ann"\ntoken = "qb_ann"\n')
    assert registry.reload_if_changed() is True
    assert "ann" in registry.friends
    assert registry.reload_if_changed() is False


def _error_for(registry_path: Path, text: str) -> RegistryError:
    registry_path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        Registry.load(registry_path)
    return caught.value


FRIEND = '\n[friends.peter]\nname = "Peter"\ntoken = "qb_peter"\n'


@pytest.mark.parametrize(
    ("edit", "line", "message", "fix"),
    [
        (lambda t: t.replace('lora_dir = "loras"', "lora_dir = loras"), 3, "TOML syntax error", "syntax"),
        (lambda t: t.replace('logs_dir = "logs"\n', ""), 1, "missing key 'logs_dir'", "logs_dir ="),
        (lambda t: t.replace('lora_dir = "loras"', "lora_dir = 3"), 3, "settings.lora_dir: expected a string", '"text"'),
        (lambda t: t.replace('preset = "standard"', 'preset = "turbo"'), 6, "unknown preset 'turbo'", "standard"),
        (
            lambda t: t.replace('preset = "standard"', 'preset = "standard"\nlora_wieght = 0.5'),
            7,
            "unknown key 'lora_wieght'",
            "lora_weight",
        ),
        (
            lambda t: t.replace('preset = "standard"', 'preset = "standard"\nbackend = "comfy"'),
            7,
            "not one of builtin, kohya",
            "builtin",
        ),
        (lambda t: t + '\n[presets.fast]\noutput_dir = "x"\n', 14, "presets.fast.output_dir: is derived", "remove it"),
        (lambda t: t + '\n[presets.fast]\n"--network_dim" = 4\n', 14, "without dashes", "network_dim"),
        (lambda t: t + '\n[friends."Bad Name"]\nname = "x"\ntoken = "qb_x"\n', 13, "must be one lowercase word", "bad_name"),
        (
            lambda t: t + FRIEND + '\n[friends.pete]\nname = "Pete"\ntoken = "QB_PETER"\n',
            19,
            "already used by friends.peter",
            "unique token",
        ),
        (lambda t: t + FRIEND.replace('token = "qb_peter"\n', ""), 13, "missing key 'token'", 'token = "qb_peter"'),
        (lambda t: t + FRIEND + "repeats = 0\n", 16, "must be at least 1", "30"),
        (lambda t: t + FRIEND + 'repeats = "30"\n', 16, "expected an integer", "30"),
        (
            lambda t: (
                t
                + FRIEND
                + '\n[[friends.peter.trainings]]\ndate = "x"\nsteps = 1\nimages = 2\n\n[[friends.peter.trainings]]\ndate = "y"\nsteps = 3\n'
            ),
            22,
            "friends.peter.trainings[1]: missing key 'images'",
            "images = 30",
        ),
        (
            lambda t: t + FRIEND + '\n[[friends.peter.trainings]]\ndate = "x"\nsteps = true\nimages = 2\n',
            19,
            "trainings[0].steps: expected an integer",
            "30",
        ),
        (lambda t: t + "\n[extras]\na = 1\n", 13, "unknown key 'extras'", "settings"),
        (
            lambda t: t + '\n[keymap]\n"dashboard.train" = 3\n',
            14,
            "keymap.dashboard.train: expected a string of keys, found an integer",
            '"dashboard.train" = "t,ctrl+n"',
        ),
        (
            lambda t: t + '\n[keymap]\n"dashboard.runs" = "r"\n"dashboard.train" = " "\n',
            15,
            "keymap.dashboard.train: expected a string of keys",
            "[keymap]",
        ),
        (
            lambda t: t + '\n[keymap]\ndashboard.train = "t"\n',
            14,
            "keymap.dashboard.train: a binding id with dots must be quoted",
            '"dashboard.train" = "keys"',
        ),
        (lambda t: 'keymap = "t"\n' + t, 1, "keymap: must be a table", "[keymap]"),
    ],
)
def test_invalid_registry_names_key_line_and_fix(registry_path: Path, edit, line: int, message: str, fix: str) -> None:
    error = _error_for(registry_path, edit(registry_path.read_text()))
    assert error.path == registry_path
    assert error.line == line, error.describe()
    assert message in error.message
    assert fix in error.fix
    assert str(error).startswith(f"{registry_path}:{line}: ")


def test_keymap_maps_binding_ids_to_keys(registry_path: Path) -> None:
    assert Registry.load(registry_path).keymap == {}
    with open(registry_path, "a", encoding="utf-8") as handle:
        handle.write('\n[keymap]\n"dashboard.train" = "t,ctrl+n"\n"app.help" = "f2"\n')
    assert Registry.load(registry_path).keymap == {"dashboard.train": "t,ctrl+n", "app.help": "f2"}


def test_repo_registry_keymap_example_is_valid_once_uncommented(tmp_path: Path) -> None:
    assert Registry.load(REPO_REGISTRY).keymap == {}
    text = REPO_REGISTRY.read_text(encoding="utf-8")
    for line in ("[keymap]", '"dashboard.train" = "t,ctrl+n"', '"app.help" = "f1,f2"'):
        text = text.replace(f"# {line}\n", f"{line}\n")
    uncommented = tmp_path / "registry.toml"
    uncommented.write_text(text, encoding="utf-8")
    assert Registry.load(uncommented).keymap == {"dashboard.train": "t,ctrl+n", "app.help": "f1,f2"}


def test_missing_settings_section(registry_path: Path) -> None:
    error = _error_for(registry_path, "[presets.standard]\nmax_train_steps = 1\n")
    assert "missing [settings]" in error.message and "datasets_dir" in error.fix


def test_not_utf8_names_the_line(registry_path: Path) -> None:
    registry_path.write_bytes(b'[settings]\ndatasets_dir = "d\xff"\n')
    with pytest.raises(RegistryError) as caught:
        Registry.load(registry_path)
    assert caught.value.line == 2 and "UTF-8" in caught.value.message


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as caught:
        Registry.load(tmp_path / "nope.toml")
    assert "not found" in caught.value.message and "qbtui demo" in caught.value.fix


def test_unknown_friend_lists_known_ones() -> None:
    registry = Registry.load(REPO_REGISTRY)
    with pytest.raises(RegistryError) as caught:
        registry.friend("paul")
    assert "peter" in caught.value.fix


class TestLocateRegistry:
    def test_cli_value_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("QBTUI_REGISTRY", str(tmp_path / "env.toml"))
        assert locate_registry(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"

    def test_environment_before_working_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "registry.toml").write_text("")
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("QBTUI_REGISTRY", "~/env.toml")
        assert locate_registry(None) == Path.home() / "env.toml"

    def test_working_dir_before_user_config(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "registry.toml").write_text("")
        monkeypatch.chdir(tmp_path)
        assert locate_registry(None) == tmp_path / "registry.toml"

    def test_user_config_created_with_a_message(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_user_dirs: Path
    ) -> None:
        monkeypatch.chdir(tmp_path)
        messages: list[str] = []
        found = locate_registry(None, announce=messages.append)
        assert found == isolated_user_dirs / "registry.toml"
        assert Registry.load(found).presets.keys() == {"standard", "fast", "quality"}
        assert messages and str(found) in messages[0]
        found.write_text(found.read_text() + "# mine\n")
        assert locate_registry(None, announce=messages.append) == found
        assert len(messages) == 1 and found.read_text().endswith("# mine\n")


def test_loaded_values_are_plain_python(registry_path: Path) -> None:
    registry = Registry.load(registry_path)
    assert all(type(value) in (str, int, float, bool) for value in registry.presets["standard"].flags.values())
    assert os.fspath(registry.path) == os.fspath(registry_path)


def test_a_training_date_may_be_a_toml_date(registry_path: Path) -> None:
    registry_path.write_text(
        registry_path.read_text() + FRIEND + "\n[[friends.peter.trainings]]\ndate = 2025-08-10\nsteps = 1200\nimages = 35\n"
    )
    assert Registry.load(registry_path).friends["peter"].trainings[0].date == "2025-08-10"


def test_a_duplicate_key_is_a_syntax_error_with_its_line(registry_path: Path) -> None:
    error = _error_for(registry_path, registry_path.read_text().replace('logs_dir = "logs"', 'logs_dir = "logs"\nlogs_dir = "x"'))
    assert error.line == 5 and "TOML syntax error" in error.message


def test_lines_are_right_after_quoted_keys_and_multiline_strings(registry_path: Path) -> None:
    text = registry_path.read_text() + (
        '\n[friends."zoë"]\nname = "Zoë"\ntoken = "qb_zoe"\nnotes = """first line\n[not.a.table]\nrepeats = 1\n"""\n'
        "describe = 'a = b'\nrepeats = -2\n"
    )
    error = _error_for(registry_path, text)
    assert (error.line, error.message) == (21, "friends.zoë.repeats: must be at least 1, found -2")
