"""`qbtui prompt` and `qbtui draw` warn on stderr about a scene that cannot be what was meant:
a friend without a LoRA, a likely typo of a friend's name, a scene naming no friend."""

from __future__ import annotations

from pathlib import Path

from qbtui.registry import Registry, Training
from qbtui.scene_check import scene_warnings


def _trained(registry_path: Path, friend_id: str) -> None:
    registry = Registry.load(registry_path)
    friend = registry.friend(friend_id)
    registry.record_training(
        friend_id, Training(date="2026-12-01", steps=60, images=24, lora_file=f"{friend.output_name}.safetensors")
    )
    registry.settings.lora_dir.mkdir(parents=True, exist_ok=True)
    (registry.settings.lora_dir / f"{friend.output_name}.safetensors").write_bytes(b"lora")


def test_prompt_warns_about_a_friend_without_a_lora_and_a_typo(run_cli, demo_registry: Path) -> None:
    _trained(demo_registry, "ada")
    code, out, err = run_cli("--registry", demo_registry, "prompt", "Aad and ben's dog")
    assert code == 0 and out.startswith("<lora:qb_ben_lora:0.8>, Aad and qb_ben person's dog")
    assert "warning: Ben has no trained LoRA yet" in err and "qbtui train ben" in err
    assert "warning: 'Aad' is no friend's name: did you mean Ada?" in err


def test_a_scene_naming_no_friend_names_the_nearest(run_cli, demo_registry: Path) -> None:
    code, out, err = run_cli("--registry", demo_registry, "prompt", "Cleoo at the beach")
    assert code == 0 and "<lora:" not in out
    assert "the scene names no friend, so it gets no LoRA; the nearest friend is Cleo (from 'Cleoo')" in err


def test_no_nearest_friend_from_short_or_common_words(demo_registry: Path) -> None:
    registry = Registry.load(demo_registry)
    assert scene_warnings("a cat on a mat", registry.friends, registry.settings) == [
        "the scene names no friend, so it gets no LoRA"
    ]
    assert scene_warnings("the ban and the man", registry.friends, registry.settings)[0].endswith("(from 'ban')")


def test_a_trained_friend_in_plain_words_gives_no_warning(run_cli, demo_registry: Path) -> None:
    _trained(demo_registry, "ada")
    code, _out, err = run_cli("--registry", demo_registry, "prompt", "Ada and the bed on the Beach")
    assert code == 0 and err == ""


def test_a_lora_file_missing_from_lora_dir_is_a_warning(demo_registry: Path) -> None:
    _trained(demo_registry, "ada")
    registry = Registry.load(demo_registry)
    (registry.settings.lora_dir / "qb_ada_lora.safetensors").unlink()
    assert scene_warnings("Ada at sea", registry.friends, registry.settings) == [
        f"Ada's LoRA file qb_ada_lora.safetensors is not in lora_dir ({registry.settings.lora_dir})"
    ]


def test_draw_warns_about_a_scene_naming_no_friend_before_drawing(run_cli, demo_registry: Path, monkeypatch) -> None:
    import qbtui.draw.run

    drawn: list[object] = []
    monkeypatch.setattr(qbtui.draw.run, "run_plan", lambda plan, progress: drawn.append(plan) or [])
    Registry.load(demo_registry).set_setting("base_model", str(demo_registry))
    code, _out, err = run_cli("--registry", demo_registry, "draw", "nobody at the beach")
    assert code == 0 and len(drawn) == 1
    assert "warning: the scene names no friend, so it gets no LoRA" in err


def test_draw_refuses_a_friend_without_a_lora_without_a_second_warning(run_cli, demo_registry: Path) -> None:
    Registry.load(demo_registry).set_setting("base_model", str(demo_registry))
    code, _out, err = run_cli("--registry", demo_registry, "draw", "Ben on a bike")
    assert code == 2 and "Ben has no trained LoRA yet, so they cannot be drawn" in err and "warning" not in err
