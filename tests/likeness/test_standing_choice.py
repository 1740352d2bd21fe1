"""The choice exists at `done` (issue 23, deliver 4 and 8): the earlier checkpoints' choice stands at once,
the final file is scored at its best weight first, and each final cell that beats the choice replaces it
in eval.json with an `eval chosen` event (the supervisor records both) before the next cell is drawn.

The drawing and the face scoring are stand-ins (no model): `_draw` returns one face per sample whose
distance to the friend's one reference is the likeness this test scripts for each file and weight."""

from __future__ import annotations

from pathlib import Path

from qbtui.events import EventWriter, read_events
from qbtui.likeness.report import read_evaluation
from qbtui.likeness.scoring import CellScore, SampleFaces
from qbtui.likeness.standing import StandingChoice, final_order
from qbtui.runs.info import RunSummary
from qbtui.trainer.config import TrainConfig
from qbtui.trainer.watch import LikenessWatch

REFERENCE = (0.0, 0.0)


def scripted_watch(tmp_path: Path, monkeypatch, likeness: dict[tuple[str, float], float], drawn: list) -> LikenessWatch:
    """A watch whose samples score `likeness[(label, weight)]`; `drawn` gets (label, weight, eval.json's choice then)."""
    config = TrainConfig(
        pretrained_model_name_or_path=tmp_path / "model",
        train_data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        output_name="qb_peter_lora",
        max_train_steps=40,
        save_every_n_steps=20,
        sample_weights=[0.6, 0.8, 1.0],
        eval_prompts=["a photo of qb_peter person"],
        eval_seeds=1,
        run_id="20261125-034512-peter-a1b2",
        friend_id="peter",
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    def draw(self, base_model, network, label, weight, specs, progress):
        evaluation = read_evaluation(run_dir / "eval.json")
        drawn.append((label, weight, evaluation.chosen.key if evaluation and evaluation.chosen else None))
        value = likeness.get((label, weight), 0.7)
        samples = [
            SampleFaces(str(tmp_path / f"{label}_{weight}_{spec.seed}.png"), spec.prompt, spec.kind, spec.seed, ((value, 0.0),))
            for spec in specs
        ]
        for sample in samples:
            if progress is not None:
                progress(label, weight, sample)
        return samples

    base = CellScore("base", None, "", 0.0, 1.0, None, 0.75, 0.0, None, ())
    monkeypatch.setattr(LikenessWatch, "_draw", draw)
    monkeypatch.setattr(LikenessWatch, "_base_cell", lambda self, base_model, network: base)
    events = EventWriter(run_dir / "events.jsonl")
    return LikenessWatch(config, run_dir, events, None, [REFERENCE], 3)


def chosen_events(watch: LikenessWatch) -> list[StandingChoice]:
    events = read_events(watch.run.events)
    return [StandingChoice.from_event(event) for event in events if event["type"] == "eval" and event["stage"] == "chosen"]


def test_the_earlier_checkpoints_choice_stands_at_done_and_a_better_final_cell_replaces_it(tmp_path, monkeypatch):
    drawn: list = []
    scores = {("20", 0.6): 0.5, ("20", 0.8): 0.45, ("20", 1.0): 0.48, ("final", 0.8): 0.40, ("final", 0.6): 0.30}
    watch = scripted_watch(tmp_path, monkeypatch, scores, drawn)
    watch.score(None, None, step=20, label="20", lora="qb_peter_lora-step00000020.safetensors", step_s=1.0)

    watch.stand(pending=3)  # at `done`, before any final cell is drawn
    (standing,) = chosen_events(watch)
    assert (standing.key, standing.pending) == ("20@0.8", 3)
    assert standing.words == "chosen: step 20 · 0.8 · likeness 0.45, final step being scored"
    assert read_evaluation(watch.run.eval_json).chosen.lora == "qb_peter_lora-step00000020.safetensors"

    watch.score(None, None, step=40, label="final", lora="qb_peter_lora.safetensors", step_s=1.0, final=True)
    finals = [(label, weight, chosen) for label, weight, chosen in drawn if label == "final"]
    # the best weight so far first; each later cell drawn with the choice its predecessor left in eval.json
    assert finals == [("final", 0.8, "20@0.8"), ("final", 0.6, "final@0.8"), ("final", 1.0, "final@0.6")]
    assert [(choice.key, choice.pending) for choice in chosen_events(watch)] == [
        ("20@0.8", 3),
        ("final@0.8", 2),
        ("final@0.6", 1),
        ("final@0.6", 0),
    ]
    assert chosen_events(watch)[-1].words == "chosen: final step · 0.6 · likeness 0.30"
    summary = RunSummary()
    for event in read_events(watch.run.events):
        summary.apply(event)
    assert summary.chosen is not None and summary.chosen.key == "final@0.6"


def test_without_an_earlier_checkpoint_the_choice_follows_the_first_final_cell(tmp_path, monkeypatch):
    drawn: list = []
    watch = scripted_watch(tmp_path, monkeypatch, {("final", 0.8): 0.42, ("final", 1.0): 0.41}, drawn)
    watch.stand(pending=3)
    (nothing,) = chosen_events(watch)
    assert nothing.key is None and nothing.words == "no choice yet, final step being scored"

    watch.score(None, None, step=40, label="final", lora="qb_peter_lora.safetensors", step_s=None, final=True)
    # the middle sample weight first, and the choice from it before the other weights are drawn
    assert drawn == [("final", 0.8, None), ("final", 0.6, "final@0.8"), ("final", 1.0, "final@0.8")]
    assert [(choice.key, choice.pending) for choice in chosen_events(watch)][:2] == [(None, 3), ("final@0.8", 2)]
    assert chosen_events(watch)[-1].key == "final@0.8"  # 1.0 is within the tie margin: the lower weight stays


def test_the_final_order_starts_at_the_best_weight_so_far():
    best = CellScore("800", 800, "a.safetensors", 1.0, 1.0, None, 0.4, 1.0, None, ())
    assert final_order([0.6, 0.8, 1.0], best) == [1.0, 0.6, 0.8]
    assert final_order([0.6, 0.8, 1.0], None) == [0.8, 0.6, 1.0]
    assert final_order([1.0], None) == [1.0]
