"""Values the registry refuses with a clear error naming the key (exit 2): a NUL in any
string (host fields, path settings, ...), a number that is not finite or out of its range."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbtui.registry import Registry, RegistryError
from qbtui.registry.schema import PATH_SETTINGS

HOST = '\n[hosts.gpu]\nssh = "qbhost"\n'


def _error_for(registry_path: Path, text: str) -> RegistryError:
    registry_path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        Registry.load(registry_path)
    return caught.value


@pytest.mark.parametrize("key", sorted(PATH_SETTINGS))
def test_a_nul_in_a_path_setting_is_refused_naming_the_key(registry_path: Path, key: str) -> None:
    text = registry_path.read_text().replace("[settings]\n", f'[settings]\n{key} = "x\\u0000y"\n', 1)
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(f"{key} = ") or "\\u0000" in line]
    error = _error_for(registry_path, "".join(lines))
    assert error.message == f"settings.{key}: contains a NUL character (\\u0000)"
    assert error.line == 2 and "remove the \\u0000" in (error.fix or "")


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ('ssh = "qbhost\\u0000"', "hosts.gpu.ssh"),
        ('ssh = "qbhost"\nqbtui = "qbtui\\u0000"', "hosts.gpu.qbtui"),
        ('ssh = "qbhost"\nwork_dir = "~/w\\u0000"', "hosts.gpu.work_dir"),
        ('ssh = "qbhost"\nssh_options = ["-p", "22\\u0000"]', "hosts.gpu.ssh_options[1]"),
    ],
)
def test_a_nul_in_a_host_field_is_refused_naming_the_key(registry_path: Path, entry: str, key: str) -> None:
    error = _error_for(registry_path, registry_path.read_text() + f"\n[hosts.gpu]\n{entry}\n")
    assert error.message.startswith(f"{key}: contains a NUL character")


def test_a_nul_in_a_key_is_refused(registry_path: Path) -> None:
    error = _error_for(registry_path, registry_path.read_text() + '\n[friends."a\\u0000"]\nname = "A"\ntoken = "qb_a"\n')
    assert "friends: the key a\\x00 contains a NUL character" in error.message


def test_hosts_with_a_nul_exits_2_with_the_key_not_a_traceback(run_cli, demo_registry: Path) -> None:
    demo_registry.write_text(demo_registry.read_text() + '\n[hosts.gpu]\nssh = "qbhost\\u0000"\n', encoding="utf-8")
    code, out, err = run_cli("--registry", demo_registry, "hosts")
    assert code == 2 and out == ""
    assert "hosts.gpu.ssh: contains a NUL character" in err and "Traceback" not in err


def test_train_with_a_nul_in_lora_dir_starts_nothing(run_cli, demo_registry: Path) -> None:
    text = demo_registry.read_text().replace('lora_dir = "loras"', 'lora_dir = "loras\\u0000"')
    demo_registry.write_text(text, encoding="utf-8")
    code, _out, err = run_cli("--registry", demo_registry, "train", "ada")
    assert code == 2 and "settings.lora_dir: contains a NUL character" in err
    assert not any((demo_registry.parent / "logs").rglob("run.toml"))


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        ("network_alpha = 8\nlearning_rate = inf\n", "presets.standard.learning_rate", "above 0 and at most 1, found inf"),
        ("network_alpha = 8\nlearning_rate = nan\n", "presets.standard.learning_rate", "found nan"),
        ("network_alpha = 8\nlearning_rate = 5.0\n", "presets.standard.learning_rate", "found 5"),
        ("network_alpha = 8\ntext_encoder_lr = -1e-5\n", "presets.standard.text_encoder_lr", "from 0 to 1"),
        ("network_alpha = -inf\n", "presets.standard.network_alpha", "must be a finite number, found -inf"),
        ("network_alpha = 8\nnoise_offset = nan\n", "presets.standard.noise_offset", "must be a finite number"),
    ],
)
def test_a_preset_number_that_is_not_finite_or_out_of_range_is_refused(
    registry_path: Path, edit: str, key: str, words: str
) -> None:
    error = _error_for(registry_path, registry_path.read_text().replace("network_alpha = 8\n", edit))
    assert error.message.startswith(f"{key}: ") and words in error.message


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("max_train_steps", "-5", "must be at least 1, found -5"),
        ("max_train_steps", "0", "must be at least 1, found 0"),
        ("network_dim", "0", "must be at least 1, found 0"),
        ("train_batch_size", "-1", "must be at least 1"),
        ("lr_warmup_steps", "-1", "must be at least 0"),
        ("save_every_n_steps", "-100", "must be at least 0"),
        ("sample_steps", "0", "must be at least 1"),
    ],
)
def test_a_preset_step_count_below_its_minimum_is_refused_with_its_line(
    registry_path: Path, flag: str, value: str, words: str
) -> None:
    text = registry_path.read_text()
    text = text.replace("[presets.standard]\n", f"[presets.standard]\n{flag} = {value}\n", 1)
    lines = [
        line for line in text.splitlines(keepends=True) if not line.startswith(f"{flag} = ") or line == f"{flag} = {value}\n"
    ]
    text = "".join(lines)
    error = _error_for(registry_path, text)
    assert error.message.startswith(f"presets.standard.{flag}: {words}")
    assert error.line == text.splitlines().index(f"{flag} = {value}") + 1


def test_status_and_train_exit_2_on_a_negative_step_count(run_cli, demo_registry: Path) -> None:
    text = demo_registry.read_text()
    assert "max_train_steps = " in text
    text = "\n".join("max_train_steps = -5" if line.startswith("max_train_steps = ") else line for line in text.splitlines())
    demo_registry.write_text(text + "\n", encoding="utf-8")
    for command in (("status",), ("train", "ada", "--preset", "standard")):
        code, _out, err = run_cli("--registry", demo_registry, *command)
        assert code == 2 and "registry.toml:" in err and "presets." in err and "max_train_steps: must be at least 1" in err, err
    assert not any((demo_registry.parent / "logs").rglob("run.toml"))


@pytest.mark.parametrize("value", ["inf", "nan", "-0.5", "0", "5", "1e308"])
def test_the_settings_lora_weight_is_finite_and_in_the_weight_range(registry_path: Path, value: str) -> None:
    text = registry_path.read_text().replace('preset = "standard"', f'preset = "standard"\nlora_weight = {value}')
    error = _error_for(registry_path, text)
    assert error.message.startswith("settings.lora_weight: must be a number above 0 and at most 2")
    assert "above 0 and at most 2" in (error.fix or "")


@pytest.mark.parametrize(("key", "value"), [("guidance_scale", "inf"), ("guidance_scale", "nan"), ("eval_min_face_rate", "inf")])
def test_other_number_settings_refuse_non_finite_values(registry_path: Path, key: str, value: str) -> None:
    text = registry_path.read_text().replace('preset = "standard"', f'preset = "standard"\n{key} = {value}')
    assert _error_for(registry_path, text).message.startswith(f"settings.{key}: must be a number")


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("chosen_weight = inf", "chosen_weight: must be a finite number"),
        ("chosen_weight = 7.0", "above 0 and at most 2"),
        ("likeness = nan", "likeness: must be a finite number"),
        ('scores = { "800@0.8" = inf }', "must be a finite number"),
    ],
)
def test_a_recorded_training_refuses_non_finite_numbers(registry_path: Path, field: str, words: str) -> None:
    friend = '\n[friends.ada]\nname = "Ada"\ntoken = "qb_ada"\n\n[[friends.ada.trainings]]\ndate = "x"\nsteps = 1\nimages = 2\n'
    error = _error_for(registry_path, registry_path.read_text() + friend + field + "\n")
    assert words in error.message


@pytest.mark.parametrize("weight", ["1e308", "-5", "5", "inf", "nan", "0"])
def test_prompt_refuses_a_weight_outside_the_range(run_cli, demo_registry: Path, weight: str) -> None:
    code, out, err = run_cli("--registry", demo_registry, "prompt", "--weight", weight, "Ada at the beach")
    assert code == 2 and out == ""
    assert "--weight must be a number above 0 and at most 2" in err and "fix: use a weight above 0 and at most 2" in err


def test_prompt_accepts_the_ends_of_the_range(run_cli, demo_registry: Path) -> None:
    code, out, _err = run_cli("--registry", demo_registry, "prompt", "--weight", "2", "Ada at the beach")
    assert code == 0 and out.startswith("<lora:qb_ada_lora:2>")


@pytest.mark.parametrize("weights", ["0.5,inf", "nan", "0.8,5"])
def test_eval_refuses_weights_outside_the_range(run_cli, demo_registry: Path, weights: str) -> None:
    code, _out, err = run_cli("--registry", demo_registry, "eval", "ada", "--weights", weights)
    assert code == 2 and "above 0 and at most 2" in err
