"""What scoring likeness while training costs, against the old pass after the last step (issue 23).

Trains in this process with `eval_after_training` on and the real face model; the friend's photos
are the public-domain test photos (`.cache/face-photos`, fetched by `scripts/setup --dev`), so the
scoring runs in full (the tiny model's samples show no face, which costs the detector the same).
From the run's own events it prints: seconds per training step, seconds per checkpoint's scoring
(and samples drawn), the share of the training between two checkpoints that scoring took, the
time from the last step to `done` (when the supervisor records the LoRA), to the choice (the
first `eval chosen` event: the earlier checkpoints' choice, in eval.json for the supervisor to
record), to the first final cell (when a run without an earlier checkpoint gets its choice) and to
the last final cell, and
the same figures scaled to a fast-preset run (1200 steps, a checkpoint every 400, 3 weights) next
to the old pass after training (every LoRA file x weight + the base model, 2 identity prompts x 2
seeds + 1 style sample each). The M1 Max estimate applies the measured share to the guide's
45-minute fast run: a training step and a sampling step are both UNet passes, so their ratio
carries over from one machine to another better than either time does.

    .venv/bin/python benchmarks/likeness_while_training.py --quick          # tiny model, 64 px, 6 steps
    .venv/bin/python benchmarks/likeness_while_training.py --size 512       # tiny model at 512 px
    .venv/bin/python benchmarks/likeness_while_training.py --model .cache/full-size/sd15-random-fp16.safetensors --size 512
        # one-off at full size on this CPU (benchmarks/full_size_model.py builds the model; takes hours)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FAST_STEPS, FAST_EVERY, FAST_WEIGHTS = 1200, 400, (0.6, 0.8, 1.0)
IDENTITY_PROMPTS, SEEDS = 2, 2
M1_MAX_FAST_RUN_S = 45 * 60  # the guide's fast run on an M1 Max (README)


def friend_photos(folder: Path) -> Path:
    """The test photos as a friend's captioned training folder; exits naming the setup command when absent."""
    from tests.face_photos import PHOTO_DIR, have_photos

    if not have_photos():
        sys.exit(f"no test photos in {PHOTO_DIR}: run `scripts/setup --dev` first")
    training = folder / "2_peter"
    training.mkdir(parents=True)
    for photo in sorted(PHOTO_DIR.glob("obama*.jpg")):
        shutil.copy(photo, training / photo.name)
        (training / photo.name).with_suffix(".txt").write_text("qb_peter person, man in a suit\n", encoding="utf-8")
    return folder


def run(model: Path, data: Path, work: Path, *, size: int, steps: int, every: int) -> list[dict]:
    """Train with scoring on; the run's events."""
    import torch

    from qbtui.events import read_events
    from qbtui.trainer.config import TrainConfig
    from qbtui.trainer.loop import train

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    config = TrainConfig(
        model,
        data,
        work / "lora",
        "qb_peter_lora",
        resolution=f"{size},{size}",
        network_dim=4,
        network_alpha=2,
        learning_rate=1e-4,
        max_train_steps=steps,
        save_every_n_steps=every,
        device="cpu",
        trigger="qb_peter",
        friend_id="peter",
        run_id="bench",
        evaluate_after_training=True,
        eval_prompts=["a photo of qb_peter person", "close-up portrait photo of qb_peter person, looking at the camera"],
        eval_seeds=SEEDS,
        sample_weights=list(FAST_WEIGHTS),
    )
    run_dir = work / "logs" / "peter" / "bench"
    run_dir.mkdir(parents=True)
    train(config, run_dir)
    return read_events(run_dir / "events.jsonl")


def figures(events: list[dict], *, every: int) -> dict[str, float]:
    """Step time (the median gap between steps), scoring per LoRA cell (from the event before it: the checkpoint,
    the base model's score or the final pass's plan), and the end of the run, from the events' times."""
    from itertools import pairwise
    from statistics import median

    step_times = [event["t"] for event in events if event["type"] == "step"]
    cell_s: list[float] = []
    samples = 0
    since = None
    for event in events:
        if event["type"] == "checkpoint" or (event["type"] == "eval" and event["stage"] == "plan"):
            since = event["t"]
        elif event["type"] == "likeness":
            if event["weight"] > 0 and since is not None:
                cell_s.append(event["t"] - since)
                samples = len(event["samples"])
            since = event["t"]
    done = next(event["t"] for event in events if event["type"] == "done")
    result = next((event["t"] for event in events if event["type"] == "eval" and event["stage"] == "result"), done)
    chosen = [event["t"] for event in events if event["type"] == "eval" and event["stage"] == "chosen"] or [result]
    step_s = median(b - a for a, b in pairwise(step_times))
    per_cell = median(cell_s) if cell_s else 0.0
    per_checkpoint = per_cell * len(FAST_WEIGHTS)
    return {
        "step_s": step_s,
        "scoring_s": per_checkpoint,
        "samples_per_weight": float(samples),
        "sample_s": per_cell / samples if samples else 0.0,
        "share": per_checkpoint / (every * step_s) if step_s else 0.0,
        "to_done_s": done - step_times[-1],
        "to_choice_s": chosen[0] - step_times[-1],
        "to_first_final_s": chosen[min(1, len(chosen) - 1)] - step_times[-1],
        "to_scored_s": result - step_times[-1],
    }


def report(found: dict[str, float], label: str) -> None:
    from qbtui.trainer.watch import BUDGET_SHARE

    step_s, sample_s = found["step_s"], found["sample_s"]
    checkpoints = FAST_STEPS // FAST_EVERY
    full = IDENTITY_PROMPTS * SEEDS
    affordable = int(BUDGET_SHARE * FAST_EVERY * step_s / sample_s) // len(FAST_WEIGHTS) if sample_s else full
    per_weight = max(1, min(full, affordable))  # what the watch's budget draws at this pace
    per_checkpoint = per_weight * len(FAST_WEIGHTS) * sample_s
    new_s = checkpoints * per_checkpoint
    old_images = (1 + checkpoints * len(FAST_WEIGHTS)) * (full + 1)
    old_s = old_images * sample_s
    training_s = FAST_STEPS * step_s
    print(label)
    print(f"  training: {step_s:.3f} s/step")
    print(
        f"  scoring at a checkpoint: {found['scoring_s']:.2f} s ({found['samples_per_weight']:.0f} samples x "
        f"{len(FAST_WEIGHTS)} weights, {sample_s:.3f} s each), {found['share']:.1%} of the steps between checkpoints"
    )
    print(
        f"  last step -> done (recorded): {found['to_done_s']:.2f} s; -> chosen (the earlier checkpoints' choice, "
        f"`eval chosen`): {found['to_choice_s']:.2f} s (target < 10 s)"
    )
    print(
        f"  last step -> first final cell (the choice of a run without an earlier checkpoint): "
        f"{found['to_first_final_s']:.2f} s; -> every final cell scored: {found['to_scored_s']:.2f} s"
    )
    print(
        f"fast preset at this pace ({FAST_STEPS} steps, a checkpoint every {FAST_EVERY}, {per_weight} of {full} samples per weight):"
    )
    print(
        f"  scoring per checkpoint: {per_checkpoint:.1f} s = {per_checkpoint / (FAST_EVERY * step_s):.1%} of {FAST_EVERY} steps"
    )
    print(f"  scoring per run: {new_s:.1f} s = {new_s / training_s:.1%} of the training ({training_s:.0f} s)")
    print(f"  old pass after training: {old_images} images, {old_s:.1f} s = {old_s / training_s:.1%}, all after the last step")
    print(
        f"  M1 Max estimate (45-minute fast run): scoring {new_s / training_s * M1_MAX_FAST_RUN_S / 60:.1f} min spread "
        f"over the run, old pass {old_s / training_s * M1_MAX_FAST_RUN_S / 60:.1f} min after it"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the tiny model at 64 px, 6 steps, a checkpoint every 3")
    parser.add_argument("--model", type=Path, help="a base model (default: the tiny model, built here)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=20)
    args = parser.parse_args()
    if args.quick:
        args.size, args.steps, args.every = 64, 6, 3
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        model = args.model
        if model is None:
            from qbtui.trainer.tiny import build_tiny_sd15

            model = build_tiny_sd15(work / "tiny")
        events = run(model, friend_photos(work / "photos"), work, size=args.size, steps=args.steps, every=args.every)
    label = f"{'tiny model' if args.model is None else args.model.name} at {args.size} px, {args.steps} steps, a checkpoint every {args.every}"
    report(figures(events, every=args.every), label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
