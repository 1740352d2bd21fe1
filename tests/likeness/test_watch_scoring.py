"""The watch announces the scoring of a checkpoint during training before it draws (`eval scoring`,
done 0) and after each sample, so the run's phase is `scoring` until its `eval checkpoint` event;
the drawing and the face scoring are stand-ins here (no model, no faces needed)."""

from __future__ import annotations

from qbtui.events import EventWriter, read_events
from qbtui.likeness.scoring import CellScore, SampleFaces
from qbtui.runs.info import RunSummary
from qbtui.trainer.config import TrainConfig
from qbtui.trainer.watch import LikenessWatch


def test_scoring_a_checkpoint_writes_its_progress_before_and_while_it_draws(tmp_path, monkeypatch):
    config = TrainConfig(
        pretrained_model_name_or_path=tmp_path / "model",
        train_data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        output_name="qb_peter_lora",
        max_train_steps=40,
        save_every_n_steps=20,
        sample_weights=[0.8, 1.0],
        eval_prompts=["a photo of qb_peter person"],
        eval_seeds=2,
        run_id="20261125-034512-peter-a1b2",
        friend_id="peter",
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    seen: list[list[str]] = []

    def draw(self, base_model, network, label, weight, specs, progress):
        seen.append([event["stage"] for event in read_events(run_dir / "events.jsonl") if event["type"] == "eval"])
        samples = [
            SampleFaces(str(tmp_path / f"{label}_{weight}_{spec.seed}.png"), spec.prompt, spec.kind, spec.seed) for spec in specs
        ]
        for sample in samples:
            progress(label, weight, sample)
        return samples

    base = CellScore("base", None, "", 0.0, 1.0, None, 0.7, 1.0, None, ())
    monkeypatch.setattr(LikenessWatch, "_draw", draw)
    monkeypatch.setattr(LikenessWatch, "_base_cell", lambda self, base_model, network: base)
    with EventWriter(run_dir / "events.jsonl") as events:
        LikenessWatch(config, run_dir, events, None, [], 24).score(
            None, None, step=20, label="20", lora="l.safetensors", step_s=0.1
        )
    evals = [event for event in read_events(run_dir / "events.jsonl") if event["type"] == "eval"]
    scoring = [(event["step"], event["done"], event["total"]) for event in evals if event["stage"] == "scoring"]
    assert scoring == [(20, done, 4) for done in range(5)]
    assert seen[0] == ["scoring"]  # said before the first sample is drawn
    assert evals[-1]["stage"] == "checkpoint"
    summary = RunSummary()
    for event in read_events(run_dir / "events.jsonl")[:3]:
        summary.apply(event)
    assert summary.scoring is not None and summary.scoring["done"] == 2
    for event in read_events(run_dir / "events.jsonl")[3:]:
        summary.apply(event)
    assert summary.scoring is None
