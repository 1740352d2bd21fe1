"""The choice in the registry's training row, the prompt's weight and the guide's table."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qbtui import cli
from qbtui.likeness.record import kept_choice, record_evaluation
from qbtui.likeness.report import Evaluation, choice_line
from qbtui.likeness.scoring import CellScore, SampleScore
from qbtui.prompt import build_prompt
from qbtui.registry import Registry, RegistryError, Training

STYLE = "illustration in the style of Quentin Blake, watercolor, whimsical"
RUN = "20261201-100000-peter-ab12"


def cell(label: str, weight: float, likeness: float | None) -> CellScore:
    lora = (
        ""
        if label == "base"
        else f"qb_peter_lora-step{int(label):08d}.safetensors"
        if label.isdigit()
        else "qb_peter_lora.safetensors"
    )
    samples = tuple(
        SampleScore(f"/runs/eval/{label}_w{weight:.2f}_s{seed}.png", "a photo of qb_peter person", "identity", seed, 1, distance)
        for seed, distance in ((1, 0.45), (2, 0.33))
    )
    return CellScore(label, None if label == "base" else 800, lora, weight, 1.0, 1.0, likeness, 1.0, None, samples)


def evaluation(chosen: CellScore | None) -> Evaluation:
    cells = (cell("base", 0, 0.81), cell("800", 0.6, 0.45), cell("800", 0.8, 0.39), cell("final", 1.0, None))
    return Evaluation(RUN, "peter", cells, chosen, "best likeness" if chosen else "no faces in the samples")


@pytest.fixture
def trained(commented_registry: Path) -> Registry:
    registry = Registry.load(commented_registry)
    registry.record_training("peter", Training(date="2026-12-01", steps=1200, images=30, preset="standard", run_id=RUN))
    return registry


def run(*argv: str, capsys) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_the_choice_lands_in_the_training_row_keeping_comments(trained: Registry, capsys) -> None:
    before = trained.path.read_text(encoding="utf-8")
    result = evaluation(cell("800", 0.8, 0.39))
    assert record_evaluation(trained, "peter", RUN, result)
    text = trained.path.read_text(encoding="utf-8")
    assert [line for line in before.splitlines() if "# note" in line] == [line for line in text.splitlines() if "# note" in line]
    row = Registry.load(trained.path).friends["peter"].trainings[-1]
    assert (row.chosen_lora, row.chosen_weight, row.likeness) == ("qb_peter_lora-step00000800.safetensors", 0.8, 0.39)
    assert row.chosen_sample == "/runs/eval/800_w0.80_s2.png"
    assert row.scores == {"base@0": 0.81, "800@0.6": 0.45, "800@0.8": 0.39}
    assert "chosen_weight = 0.8" in text


def test_prompt_uses_the_chosen_file_and_weight_unless_a_weight_is_given(trained: Registry, capsys) -> None:
    record_evaluation(trained, "peter", RUN, evaluation(cell("800", 0.6, 0.39)))
    out = run("--registry", str(trained.path), "prompt", "Peter climbing a tree", capsys=capsys)
    assert out.startswith("<lora:qb_peter_lora-step00000800:0.6>, qb_peter person climbing a tree")
    out = run("--registry", str(trained.path), "prompt", "--weight", "0.9", "Peter climbing a tree", capsys=capsys)
    assert out.startswith("<lora:qb_peter_lora-step00000800:0.9>, ")
    friends = Registry.load(trained.path).friends
    assert build_prompt("Peter", friends, style_suffix=STYLE, weight=0.8).startswith("<lora:qb_peter_lora-step00000800:0.6>")


def test_the_guides_table_gains_a_likeness_column(trained: Registry, capsys) -> None:
    record_evaluation(trained, "peter", RUN, evaluation(cell("800", 0.8, 0.39)))
    lines = run("--registry", str(trained.path), "registry", "table", capsys=capsys).splitlines()
    assert lines[0] == "| Name | Token | Date Trained | Steps | Images | Likeness | Notes | Card |"
    assert "| 0.390 (qb_peter_lora-step00000800 @ 0.8) |" in lines[-1]


def test_a_pass_that_chooses_nothing_keeps_an_earlier_choice(trained: Registry) -> None:
    record_evaluation(trained, "peter", RUN, evaluation(cell("800", 0.8, 0.39)))
    later = evaluation(None)
    record_evaluation(trained, "peter", RUN, replace(later, cells=later.cells[:2]))
    peter = Registry.load(trained.path).friends["peter"]
    row = peter.trainings[-1]
    assert (row.chosen_lora, row.chosen_weight, row.likeness) == ("qb_peter_lora-step00000800.safetensors", 0.8, 0.39)
    assert row.chosen_sample == "/runs/eval/800_w0.80_s2.png"
    assert row.scores == {"base@0": 0.81, "800@0.6": 0.45}
    assert build_prompt("Peter", [peter], style_suffix=STYLE, weight=0.6).startswith("<lora:qb_peter_lora-step00000800:0.8>")


def test_a_pass_that_chooses_nothing_says_which_choice_it_kept(trained: Registry) -> None:
    record_evaluation(trained, "peter", RUN, evaluation(cell("800", 0.8, 0.39)))
    told = kept_choice(evaluation(None), Registry.load(trained.path).friends["peter"].trainings[-1])
    assert told.chosen is not None and told.chosen.key == "800@0.8"
    assert choice_line(told).endswith(
        "kept the earlier choice (qb_peter_lora-step00000800.safetensors at weight 0.8); this pass chose none: no faces in the samples"
    )
    nothing = Training(date="2026-12-01", steps=1, images=1, run_id=RUN)
    unchosen = evaluation(None)
    assert kept_choice(unchosen, nothing) is unchosen


def test_only_the_latest_training_choice_counts(trained: Registry) -> None:
    record_evaluation(trained, "peter", RUN, evaluation(cell("800", 0.6, 0.39)))
    trained.record_training("peter", Training(date="2026-12-02", steps=1200, images=30, run_id="20261202-100000-peter-cd34"))
    peter = Registry.load(trained.path).friends["peter"]
    assert peter.chosen_weight is None and peter.lora_name == "qb_peter_lora"


def test_a_run_without_a_training_row_is_reported(trained: Registry) -> None:
    assert not record_evaluation(trained, "peter", "20261203-100000-peter-ef56", evaluation(cell("800", 0.8, 0.39)))


def test_hand_written_choices_are_validated(registry_path: Path) -> None:
    text = registry_path.read_text(encoding="utf-8")
    base = (
        text
        + '\n[friends.peter]\nname = "Peter"\ntoken = "qb_peter"\n\n[[friends.peter.trainings]]\ndate = 2026-12-01\nsteps = 1\nimages = 1\n'
    )
    registry_path.write_text(base + 'chosen_weight = "high"\n', encoding="utf-8")
    with pytest.raises(RegistryError, match="chosen_weight"):
        Registry.load(registry_path)
    registry_path.write_text(base + 'scores = { "800@0.8" = "good" }\n', encoding="utf-8")
    with pytest.raises(RegistryError, match="scores"):
        Registry.load(registry_path)
    registry_path.write_text(
        base + 'chosen_lora = "a.safetensors"\nchosen_weight = 1\nscores = { "800@0.8" = 0.4 }\n', encoding="utf-8"
    )
    peter = Registry.load(registry_path).friends["peter"]
    assert peter.chosen_weight == 1.0 and peter.lora_name == "a"


@pytest.mark.parametrize("lora", ["/tmp/outside/a.txt", "../a.safetensors", "sub\\a.safetensors", ".."])
def test_a_chosen_lora_outside_the_lora_folder_is_refused(trained: Registry, lora: str) -> None:
    before = trained.path.read_text(encoding="utf-8")
    with pytest.raises(RegistryError, match="chosen_lora"):
        trained.record_choice("peter", RUN, chosen_lora=lora, chosen_weight=0.8, likeness=0.4, scores={})
    assert trained.path.read_text(encoding="utf-8") == before
    trained.path.write_text(before.replace(f'run_id = "{RUN}"', f'run_id = "{RUN}"\nchosen_lora = {lora!r}'), encoding="utf-8")
    with pytest.raises(RegistryError, match=r"registry.toml:\d+: friends.peter.trainings\[\d+\]\.chosen_lora"):
        Registry.load(trained.path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("eval_seeds = 0", "eval_seeds"),
        ("eval_steps = 500", "eval_steps"),
        ("eval_min_face_rate = 1.5", "eval_min_face_rate"),
        ('eval_prompts = ["a photo of Peter"]', "token"),
        ("eval_prompts = []", "eval_prompts"),
        ("eval_after_training = 1", "eval_after_training"),
    ],
)
def test_evaluation_settings_are_validated(registry_path: Path, line: str, message: str) -> None:
    text = registry_path.read_text(encoding="utf-8").replace("[settings]\n", f"[settings]\n{line}\n")
    registry_path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        Registry.load(registry_path)


def test_evaluation_settings_have_defaults_and_can_be_set(registry_path: Path) -> None:
    registry = Registry.load(registry_path)
    assert registry.settings.eval_seeds == 2 and registry.settings.eval_prompts[0] == "a photo of {token} person"
    registry.set_setting("eval_prompts", ["portrait of {token} person"])
    registry.set_setting("eval_min_face_rate", 0.5)
    reloaded = Registry.load(registry_path).settings
    assert reloaded.eval_prompts == ("portrait of {token} person",) and reloaded.eval_min_face_rate == 0.5
