"""The kohya backend: the guide's command lines token by token, and its output as events."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qbtui.errors import QbtuiError
from qbtui.registry import Preset, Registry
from qbtui.runs.backends.kohya import (
    KohyaOutputParser,
    check_kohya_install,
    kohya_command,
    kohya_resume_args,
)

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "registry.toml"
HOME = str(Path.home())

# The guide's "Standard Training" command, as tokens, paths with ~ expanded.
GUIDE_COMMON = [
    f"{HOME}/sd-train-venv/bin/accelerate",
    "launch",
    f"{HOME}/sd-scripts/train_network.py",
    "--pretrained_model_name_or_path",
    f"{HOME}/stable-diffusion-webui/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors",
    "--train_data_dir",
    f"{HOME}/datasets/friends/peter",
    "--caption_extension",
    ".txt",
    "--resolution",
    "512,512",
    "--output_dir",
    f"{HOME}/stable-diffusion-webui/models/Lora",
    "--logging_dir",
    f"{HOME}/datasets/logs/peter",
    "--network_module",
    "networks.lora",
    "--network_dim",
    "16",
    "--network_alpha",
    "8",
    "--learning_rate",
    "1e-4",
    "--text_encoder_lr",
    "5e-5",
    "--optimizer_type",
    "AdamW",
    "--lr_scheduler",
    "cosine",
    "--max_train_steps",
    "1200",
    "--train_batch_size",
    "1",
]
GUIDE_STANDARD = [
    *GUIDE_COMMON,
    "--gradient_checkpointing",
    "--mixed_precision",
    "no",
    "--save_every_n_steps",
    "400",
    "--save_model_as",
    "safetensors",
    "--output_name",
    "qb_peter_lora",
]
GUIDE_FAST = [
    *GUIDE_COMMON,
    "--mixed_precision",
    "fp16",
    "--save_every_n_steps",
    "400",
    "--save_model_as",
    "safetensors",
    "--output_name",
    "qb_peter_lora",
    "--cache_latents",
    "--persistent_data_loader_workers",
    "--dataloader_num_workers",
    "4",
    "--network_train_unet_only",
]


def erratum(tokens: list[str]) -> list[str]:
    """The guide's command with qbtui's documented fixes: the worker flag's real name, --sdpa."""
    fixed = ["--max_data_loader_n_workers" if t == "--dataloader_num_workers" else t for t in tokens]
    return [*fixed, "--sdpa"]


@pytest.fixture(scope="module")
def guide_registry():
    return Registry.load(REPO_REGISTRY)


@pytest.mark.parametrize("preset, guide", [("standard", GUIDE_STANDARD), ("fast", GUIDE_FAST)])
def test_command_equals_the_guides_with_errata(guide_registry, preset, guide):
    argv, env = kohya_command(guide_registry.settings, guide_registry.friend("peter"), guide_registry.preset(preset))
    assert argv == erratum(guide)
    assert env == {"PYTORCH_ENABLE_MPS_FALLBACK": "1", "PYTHONUNBUFFERED": "1"}


def test_sdpa_off_and_steps_override(guide_registry):
    settings = replace(guide_registry.settings, kohya_sdpa=False)
    argv, _ = kohya_command(settings, guide_registry.friend("peter"), guide_registry.preset("standard"), steps=300)
    assert argv == ["300" if token == "1200" else token for token in GUIDE_STANDARD]


def test_a_presets_process_count_goes_to_accelerate_not_to_the_script(guide_registry):
    standard = guide_registry.preset("standard")
    for processes, launch in ((1, []), (2, ["--multi_gpu", "--num_processes", "2"])):
        preset = Preset("multi", {**standard.flags, "num_processes": processes})
        argv, _ = kohya_command(guide_registry.settings, guide_registry.friend("peter"), preset)
        assert argv == [*GUIDE_STANDARD[:2], *launch, *erratum(GUIDE_STANDARD)[2:]]


def test_the_tokenizer_cache_dir_setting_is_passed_to_kohya(guide_registry, tmp_path):
    settings = replace(guide_registry.settings, tokenizer_cache_dir=tmp_path / "tok")
    argv, _ = kohya_command(settings, guide_registry.friend("peter"), guide_registry.preset("standard"))
    assert argv == [*erratum(GUIDE_STANDARD), "--tokenizer_cache_dir", str(tmp_path / "tok")]


def test_missing_sd_scripts_or_accelerate_is_a_clear_error(tmp_path, guide_registry):
    settings = replace(guide_registry.settings, kohya_scripts=tmp_path / "sd-scripts", kohya_accelerate=tmp_path / "accelerate")
    with pytest.raises(QbtuiError, match="sd-scripts is not installed") as error:
        check_kohya_install(settings)
    assert error.value.path == tmp_path / "sd-scripts" / "train_network.py" and "git clone" in error.value.fix
    (tmp_path / "sd-scripts").mkdir()
    (tmp_path / "sd-scripts" / "train_network.py").write_text("")
    with pytest.raises(QbtuiError, match="accelerate"):
        check_kohya_install(settings)
    (tmp_path / "accelerate").write_text("")
    check_kohya_install(settings)


def test_resume_needs_a_state_folder(tmp_path):
    with pytest.raises(QbtuiError, match="save_state"):
        kohya_resume_args(tmp_path, "qb_peter_lora")
    (tmp_path / "qb_peter_lora-step00000400-state").mkdir()
    assert kohya_resume_args(tmp_path, "qb_peter_lora") == ["--resume", str(tmp_path / "qb_peter_lora-step00000400-state")]


# Recorded sd-scripts output (stderr progress redrawn with \r, stdout lines with \n).
RECORDED = (
    "steps:   0%|          | 0/1080 [00:00<?, ?it/s]\r"
    "steps:   0%|          | 5/1080 [19:43<70:40:10, 236.66s/it, avr_loss=0.133]\r"
    "steps:   0%|          | 5/1080 [19:44<70:40:10, 236.66s/it, avr_loss=0.133]\r"
    "steps:   1%|          | 6/1080 [19:45<60:00, 1.50it/s, avr_loss=0.0912]\n"
    "saving checkpoint: /loras/qb_peter_lora-step00000400.safetensors\n"
    "epoch 2/3\n"
)


def test_parser_turns_progress_and_checkpoints_into_events():
    parser = KohyaOutputParser()
    events = parser.feed(RECORDED.encode())
    assert [e["type"] for e in events] == ["step", "step", "checkpoint"]
    first, second, checkpoint = events
    assert (first["step"], first["max_steps"], first["loss"], first["avg_loss"]) == (5, 1080, 0.133, 0.133)
    assert first["it_s"] == pytest.approx(1 / 236.66) and first["eta_s"] == 70 * 3600 + 40 * 60 + 10
    assert (second["step"], second["loss"], second["it_s"], second["eta_s"]) == (6, 0.0912, 1.5, 3600)
    assert checkpoint == {"type": "checkpoint", "step": 400, "path": "/loras/qb_peter_lora-step00000400.safetensors"}
    assert parser.saving_since is not None


def test_parser_reads_stdout_text_glued_to_an_unfinished_bar():
    parser = KohyaOutputParser()
    glued = b"steps:  50%|#####     | 4/8 [00:04<00:04, 1.00it/s, avr_loss=0.4]saving checkpoint: /l/a-step00000004.safetensors\n"
    assert [e["type"] for e in parser.feed(glued)] == ["step", "checkpoint"]


def test_parser_waits_for_whole_lines_split_across_reads():
    parser = KohyaOutputParser()
    assert parser.feed(b"steps:  50%|#####     | 3/6 [00:03<00:03, 1.00it/s, avr") == []
    (event,) = parser.feed(b"_loss=0.5]\r")
    assert event["step"] == 3 and event["loss"] == 0.5


def test_parser_reports_a_traceback_with_the_tail():
    parser = KohyaOutputParser()
    lines = [f"log line {n}" for n in range(30)] + [
        "Traceback (most recent call last):",
        '  File "train_network.py", line 10, in <module>',
        "    raise ValueError('x')",
        "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB",
    ]
    (event,) = parser.feed("\n".join(lines) + "\n")
    assert event["type"] == "error" and event["message"].startswith("RuntimeError: CUDA out of memory")
    assert "train_batch_size" in event["hint"]
    assert len(event["log_tail"]) == 20 and event["log_tail"][-1] == lines[-1]


def test_parser_says_a_full_disk_is_one():
    parser = KohyaOutputParser()
    traceback = (
        'Traceback (most recent call last):\n  File "train_network.py", line 10\nOSError: [Errno 28] No space left on device\n'
    )
    (event,) = parser.feed(traceback)
    assert event["message"] == "OSError: [Errno 28] No space left on device"
    assert event["hint"].startswith("the disk is full: free room in the folder output.log names")


def test_parser_reports_argparse_errors():
    parser = KohyaOutputParser()
    (event,) = parser.feed(b"train_network.py: error: unrecognized arguments: --dataloader_num_workers 4\n")
    assert "unrecognized arguments" in event["message"] and "preset" in event["hint"]
    assert parser.feed(b"ValueError: not in a traceback, just text\n") == []


def test_accelerates_wrapper_error_does_not_hide_the_trainers():
    parser = KohyaOutputParser()
    output = (
        'Traceback (most recent call last):\n  File "train_network.py", line 9\n'
        "torch.OutOfMemoryError: MPS backend out of memory\n"
        'Traceback (most recent call last):\n  File "accelerate/commands/launch.py", line 5\n'
        "subprocess.CalledProcessError: Command '['python', 'train_network.py']' returned non-zero exit status 1.\n"
    )
    events = parser.feed(output)
    assert [e["message"] for e in events] == ["torch.OutOfMemoryError: MPS backend out of memory"]


def test_the_guides_worker_flag_is_renamed_for_sd_scripts(guide_registry):
    preset = Preset("old-fast", {"dataloader_num_workers": 4, "cache_latents": True, "network_train_unet_only": False})
    argv, _ = kohya_command(guide_registry.settings, guide_registry.friend("peter"), preset)
    assert "--dataloader_num_workers" not in argv and argv[argv.index("--max_data_loader_n_workers") + 1] == "4"
    assert "--network_train_unet_only" not in argv, "a false boolean is left out"
