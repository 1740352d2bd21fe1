"""TrainConfig: presets to config, TOML round trip, validation with named keys."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
import tomlkit

from qbtui.errors import QbtuiError
from qbtui.registry import Friend, Preset, Settings
from qbtui.trainer.config import TrainConfig

GUIDE_FAST = {
    "network_dim": 16,
    "network_alpha": 8,
    "learning_rate": 1e-4,
    "text_encoder_lr": 5e-5,
    "optimizer_type": "AdamW",
    "lr_scheduler": "cosine",
    "max_train_steps": 1200,
    "train_batch_size": 1,
    "mixed_precision": "fp16",
    "save_every_n_steps": 400,
    "cache_latents": True,
    "persistent_data_loader_workers": True,
    "max_data_loader_n_workers": 4,
    "network_train_unet_only": True,
    "sdpa": True,
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        datasets_dir=tmp_path / "datasets",
        lora_dir=tmp_path / "Lora",
        logs_dir=tmp_path / "logs",
        base_model=tmp_path / "v1-5.safetensors",
        tokenizer=tmp_path / "tok",
        device="cpu",
    )


@pytest.fixture
def peter() -> Friend:
    return Friend(id="peter", name="Peter", token="qb_peter", repeats=30)


def test_from_preset_takes_flags_paths_and_friend(settings, peter):
    config = TrainConfig.from_preset(Preset("fast", dict(GUIDE_FAST)), settings, peter, run_id="r1")
    assert config.network_dim == 16 and config.network_alpha == 8.0
    assert config.mixed_precision == "fp16" and config.cache_latents is True
    assert config.train_data_dir == settings.datasets_dir / "peter"
    assert config.output_dir == settings.lora_dir
    assert config.output_name == "qb_peter_lora"
    assert config.tokenizer == settings.tokenizer and config.device == "cpu"
    assert config.trigger == "qb_peter person" and config.friend_id == "peter" and config.run_id == "r1"
    assert config.preset == "fast"


def test_unknown_and_unimplemented_flags_are_listed(settings, peter):
    config = TrainConfig.from_preset(Preset("fast", dict(GUIDE_FAST)), settings, peter)
    assert config.extra_flags == {"sdpa": True}
    assert set(config.unsupported_flags()) == {"persistent_data_loader_workers", "max_data_loader_n_workers", "sdpa"}
    plain = TrainConfig.from_preset(Preset("standard", {"max_train_steps": 10}), settings, peter)
    assert plain.unsupported_flags() == []


def test_overrides_win_over_the_preset(settings, peter):
    config = TrainConfig.from_preset(Preset("fast", dict(GUIDE_FAST)), settings, peter, max_train_steps=7)
    assert config.max_train_steps == 7


def test_sample_prompt_uses_token_and_style_when_sampling(settings, peter):
    config = TrainConfig.from_preset(Preset("s", {"sample_every_n_steps": 100}), settings, peter)
    assert config.sample_prompts == [f"qb_peter person, {settings.style_suffix}"]


def test_toml_round_trip_through_a_real_document(settings, peter, tmp_path):
    config = TrainConfig.from_preset(Preset("fast", dict(GUIDE_FAST)), settings, peter, run_id="r1")
    document = tomlkit.document()
    document["train"] = config.to_toml_table()
    path = tmp_path / "run.toml"
    path.write_text(tomlkit.dumps(document))
    loaded = TrainConfig.from_toml_table(tomlkit.parse(path.read_text())["train"], path=path)
    assert loaded == config
    assert isinstance(document["train"]["output_dir"], str)


def test_tokenizer_places_come_from_the_settings_or_kohyas_flag(settings, peter, tmp_path):
    placed = replace(settings, tokenizer_cache_dir=tmp_path / "kohya-tok", comfyui_dir=tmp_path / "ComfyUI")
    config = TrainConfig.from_preset(Preset("s", {}), placed, peter)
    assert config.tokenizer_options() == {
        "tokenizer_dir": tmp_path / "tok",
        "tokenizer_cache_dir": tmp_path / "kohya-tok",
        "comfyui_dir": tmp_path / "ComfyUI",
    }
    assert TrainConfig.from_toml_table(config.to_toml_table()) == config
    flagged = TrainConfig.from_preset(Preset("s", {"tokenizer_cache_dir": str(tmp_path / "flag-tok")}), settings, peter)
    assert flagged.tokenizer_cache_dir == tmp_path / "flag-tok" and not flagged.extra_flags


def test_unset_optional_paths_are_left_out_of_toml(tmp_path):
    config = TrainConfig(tmp_path / "m", tmp_path / "d", tmp_path / "o", "x")
    table = config.to_toml_table()
    assert "tokenizer" not in table and "logging_dir" not in table
    assert TrainConfig.from_toml_table(table) == config


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("network_dim", 0),
        ("max_train_steps", -1),
        ("mixed_precision", "fp8"),
        ("resolution", "500,512"),
        ("optimizer_type", "Lion"),
        ("network_dim", "sixteen"),
        ("cache_latents", "maybe"),
        ("learning_rate", float("inf")),
        ("network_alpha", float("nan")),
        ("sample_weights", [0.8, float("inf")]),
    ],
)
def test_bad_values_name_the_key_and_file(tmp_path, key, value):
    table = TrainConfig(tmp_path / "m", tmp_path / "d", tmp_path / "o", "x").to_toml_table()
    table[key] = value
    with pytest.raises(QbtuiError) as caught:
        TrainConfig.from_toml_table(table, path=tmp_path / "run.toml")
    assert key in caught.value.message
    assert caught.value.path == tmp_path / "run.toml"
    assert caught.value.fix


def test_unknown_and_missing_keys_are_errors(tmp_path):
    table = TrainConfig(tmp_path / "m", tmp_path / "d", tmp_path / "o", "x").to_toml_table()
    with pytest.raises(QbtuiError, match="'bogus'"):
        TrainConfig.from_toml_table({**table, "bogus": 1})
    del table["output_name"]
    with pytest.raises(QbtuiError, match="output_name"):
        TrainConfig.from_toml_table(table)


def test_resolution_accepts_one_number(tmp_path):
    config = TrainConfig(tmp_path / "m", tmp_path / "d", tmp_path / "o", "x", resolution="64")
    assert config.size == (64, 64)


def test_text_encoder_lr_defaults_to_learning_rate(tmp_path):
    config = TrainConfig(tmp_path / "m", tmp_path / "d", tmp_path / "o", "x", learning_rate=3e-4)
    assert config.effective_text_encoder_lr == 3e-4
    config.text_encoder_lr = 5e-5
    assert config.effective_text_encoder_lr == 5e-5


def test_config_module_imports_no_torch():
    import subprocess

    code = "import sys, qbtui.trainer.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_preset_of_the_shipped_registry_builds_a_config():
    from qbtui.registry import Registry

    registry = Registry.load(Path(__file__).resolve().parents[2] / "registry.toml")
    friend = next(iter(registry.friends.values()))
    for preset in registry.presets.values():
        config = TrainConfig.from_preset(preset, registry.settings, friend)
        assert config.max_train_steps == preset.max_train_steps
        assert config.output_name == friend.output_name
    fast = TrainConfig.from_preset(registry.presets["fast"], registry.settings, friend)
    assert fast.cache_latents and fast.network_train_unet_only and fast.mixed_precision == "fp16"
