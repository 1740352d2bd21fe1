"""One trigger phrase per friend: the LoRA's header, its A1111 card, its LoRA Manager sidecar and the captions agree."""

from __future__ import annotations

import json

from qbtui.rundir import RunDir, read_run_toml
from qbtui.runs import manager
from qbtui.trainer.config import TrainConfig
from qbtui.trainer.metadata import RunFacts, lora_metadata

FINAL = ("completed", "stopped", "failed", "crashed")


def header_of(run: RunDir) -> dict[str, str]:
    """The metadata the trainer writes into the LoRA's header, from the config the run carries in its run.toml."""
    config = TrainConfig.from_toml_table(read_run_toml(run)["train"], path=run.run_toml)
    facts = RunFacts(1, {}, {}, "base", "0", 0.0, 0, "no")
    return lora_metadata(config, facts, steps=config.max_train_steps, output_stem=config.output_name)


def test_the_header_the_card_and_the_sidecar_say_the_captions_trigger_phrase(workspace, wait_for_state):
    info = manager.start_run(workspace, "peter")
    assert wait_for_state(info.path, FINAL).state == "completed"
    loras = workspace.settings.lora_dir
    header = header_of(RunDir(info.path))["modelspec.trigger_phrase"]
    card = json.loads((loras / "qb_peter_lora.json").read_text())["activation text"]
    sidecar = json.loads((loras / "qb_peter_lora.metadata.json").read_text())["civitai"]["trainedWords"]
    caption = workspace.friend("peter").caption_template
    assert [header, card, *sidecar] == ["qb_peter person"] * 3
    assert caption.startswith(header)
