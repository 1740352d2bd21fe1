"""Step-speed attempts on the fast preset at full SD1.5 size: each variant's s/step and its losses.

    .venv/bin/python benchmarks/step_speed.py [--model CKPT] [--warmup 2] [--steps 4] [--only NAME ...]

Every variant runs in its own process: the builtin trainer's real set-up and step
(`loop._Trainer`) on the full-size single file of `full_size_model.py` (built once under
`.cache/full-size/`) and the four photos of `full_size.py`, with one change applied after the
set-up. Same seed, same photos, same draws: a variant that computes the same thing gives the
same losses to rounding, so "same loss" is read off the table (max |loss - baseline's| over
the steps). Variants:

- baseline: what the trainer does (fast preset; on a CPU with native bf16, bf16 autocast)
- float32: mixed_precision no (the trainer's choice on a CPU without native bf16)
- channels_last: the UNet's weights and inputs in NHWC memory format
- fused AdamW: `torch.optim.AdamW(fused=True)` instead of the foreach implementation
- plain attention: diffusers' `AttnProcessor` instead of SDPA (`AttnProcessor2_0`)
- sdpa math: SDPA restricted to torch's math kernel (no fused CPU flash kernel)
- torch.compile: `torch.compile(unet)` (inductor); its first steps include the compile
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
VARIANTS = ("baseline", "float32", "channels_last", "fused AdamW", "plain attention", "sdpa math", "torch.compile")


def apply_variant(trainer, name: str):
    """Change the set-up trainer for `name`; returns a context manager the steps run inside."""
    import torch

    unet = trainer.base.unet
    if name == "channels_last":
        unet.to(memory_format=torch.channels_last)
        forward = unet.forward

        def nhwc_forward(sample, *positional, **named):
            return forward(sample.contiguous(memory_format=torch.channels_last), *positional, **named)

        unet.forward = nhwc_forward
    elif name == "fused AdamW":
        groups = trainer.network.param_groups(trainer.config.learning_rate, trainer.config.effective_text_encoder_lr)
        trainer.optimizer.optimizer = torch.optim.AdamW(groups, fused=True)
        trainer.lr_scheduler.scheduler.optimizer = trainer.optimizer.optimizer
    elif name == "plain attention":
        from diffusers.models.attention_processor import AttnProcessor

        unet.set_attn_processor(AttnProcessor())
    elif name == "sdpa math":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel(SDPBackend.MATH)
    elif name == "torch.compile":
        trainer.base.unet = torch.compile(unet)
    return contextlib.nullcontext()


def variant_child(args: argparse.Namespace) -> None:
    """Set up the fast preset, apply the variant, time the steps; print the figures as JSON."""
    import full_size

    from qbtui.events import EventWriter
    from qbtui.trainer.config import TrainConfig
    from qbtui.trainer.loop import _Trainer

    work = Path(args.work)
    settings, friend, presets = full_size.bench_registry(work, Path(args.model), None, None, True)
    variant = args.variant.removesuffix(", again")
    overrides = {"mixed_precision": "no"} if variant == "float32" else {}
    config = TrainConfig.from_preset(
        presets["fast"], settings, friend, max_train_steps=args.warmup + args.steps, device="cpu", **overrides
    )
    run_dir = work / "runs" / args.variant.replace(" ", "-").replace(".", "-").replace(",", "")
    run_dir.mkdir(parents=True)
    with EventWriter(run_dir / "events.jsonl") as events:
        trainer = _Trainer(config, run_dir, events)
        trainer._set_up()
        times, losses = [], []
        with apply_variant(trainer, variant):
            for step in range(config.max_train_steps):
                started = time.perf_counter()
                losses.append(float(trainer._train_step(step)))
                times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "precision": trainer.precision.precision,
                "first_steps_s": times[: args.warmup],
                "s_per_step": statistics.median(times[args.warmup :]),
                "losses": losses,
                "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an SD1.5 single file with tokenizer/ beside it (default: build one)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="timed steps after the warm-up")
    parser.add_argument("--only", nargs="+", choices=VARIANTS, help="run these variants (baseline is always run)")
    parser.add_argument("--timeout", type=float, default=1500, help="seconds a variant may take (compiling included)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        variant_child(args)
        return
    import full_size

    if args.model is None:
        args.model = full_size.built_model()
    # The baseline first and again last: the spread of the two is the noise the other rows sit in.
    names = ["baseline", *[name for name in VARIANTS if name != "baseline" and (not args.only or name in args.only)]]
    names.append("baseline, again")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="qbtui-step-speed-") as temp:
        work = Path(temp)
        full_size.build_photos(work / "datasets")
        env = full_size.child_environment(work)
        for name in names:
            command = [sys.executable, __file__, "--variant", name, "--work", str(work), "--model", str(args.model)]
            command += ["--warmup", str(args.warmup), "--steps", str(args.steps)]
            try:
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                results[name] = {"error": f"not done within {args.timeout:.0f} s"}
                print(f"measured {name}: {results[name]}", flush=True)
                continue
            if done.returncode != 0:
                results[name] = {
                    "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
                }
            else:
                results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"measured {name}: {results[name]}", flush=True)
    report(results, args)


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    base = results["baseline"]
    print(f"\nfast preset, full-size SD1.5, batch 1, 512 px; median of steps {args.warmup + 1}-{args.warmup + args.steps}\n")
    print(f"{'variant':<18}{'precision':>10}{'s/step':>9}{'vs base':>9}{'peak GiB':>10}{'max |dloss|':>13}  first steps s")
    for name, row in results.items():
        if "error" in row:
            print(f"{name:<18}  failed: {row['error']}")
            continue
        drift = max(abs(a - b) for a, b in zip(row["losses"], base["losses"], strict=True)) if "losses" in base else float("nan")
        first = ", ".join(f"{t:.1f}" for t in row["first_steps_s"])
        print(
            f"{name:<18}{row['precision']:>10}{row['s_per_step']:>9.2f}{row['s_per_step'] / base['s_per_step']:>8.2f}x"
            f"{row['peak_gib']:>10.2f}{drift:>13.2e}  {first}"
        )


if __name__ == "__main__":
    main()
