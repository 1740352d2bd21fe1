"""Stand-in for `python -m qbtui.trainer RUN_DIR [--resume]`: fast, scriptable by env vars.

STANDIN_STEP_S: seconds per step; STANDIN_MODE: "normal", "crash" (fails at step 3 after
30 log lines), "ignore-term" (SIGTERM does nothing), "no-lora" (reports a completed LoRA it
never wrote), "stale-lora" (reports the final LoRA's path, an older file there, without writing it), "eval" (after `done`, a likeness pass: one sample and its event, then it waits
for RUN_DIR/release-eval (or a stop, which ends it there) before writing eval.json, which
chooses the final LoRA at 0.8; STANDIN_EVAL_JSON=broken writes a cut-off one instead), "choice" (as the
builtin trainer scoring while it trains: after `done` an `eval chosen` event stating its step-N/2
checkpoint at 0.8 (its eval.json cut off with STANDIN_EVAL_JSON=broken), then, once RUN_DIR/release-final
exists, the final file at 0.8 beating it, then it waits for RUN_DIR/release-end).
Writes events like the real trainer,
keeps its step in state/step.txt, writes the LoRA by temp + rename.
"""

import contextlib
import json
import os
import signal
import sys
import time
import tomllib
from pathlib import Path

run = Path(sys.argv[1])
resume = "--resume" in sys.argv
train = tomllib.loads((run / "run.toml").read_text())["train"]
steps = int(train["max_train_steps"])
delay = float(os.environ.get("STANDIN_STEP_S", "0.02"))
mode = os.environ.get("STANDIN_MODE", "normal")
state = run / "state" / "step.txt"
stop = []

if mode != "ignore-term":
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
else:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


# One O_APPEND descriptor for the whole run, as the real trainer's EventWriter keeps.
events = os.open(run / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def emit(kind, **fields):
    os.write(events, (json.dumps({"t": time.time(), "type": kind, **fields}) + "\n").encode())


def write_lora(name):
    target = Path(train["output_dir"]) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_bytes(b"lora" * 1000)
    os.replace(temp, target)
    return str(target)


first = int(state.read_text()) + 1 if resume and state.exists() else 1
emit(
    "start",
    run_id=train["run_id"],
    friend=train["friend_id"],
    backend="builtin",
    max_steps=steps,
    device="cpu",
    images=20,
    preset=train["preset"],
)
print(f"stand-in trainer from step {first}", flush=True)
for step in range(first, steps + 1):
    if stop:
        break
    time.sleep(delay)
    if mode == "crash" and step == 3:
        for n in range(30):
            print(f"loading line {n}", flush=True)
        raise RuntimeError("the stand-in trainer crashed on purpose")
    print(f"step {step}/{steps}", flush=True)
    emit(
        "step",
        step=step,
        max_steps=steps,
        loss=1.0 / step,
        avg_loss=1.0 / step,
        lr=1e-4,
        lr_te=5e-5,
        it_s=1 / delay,
        eta_s=(steps - step) * delay,
    )
    with contextlib.suppress(FileNotFoundError):  # the run folder deleted under it
        state.write_text(str(step))
if mode == "no-lora":
    emit("done", status="completed", lora_path=str(Path(train["output_dir"]) / "never-written.safetensors"))
elif mode == "stale-lora":
    emit("done", status="completed", lora_path=str(Path(train["output_dir"]) / f"{train['output_name']}.safetensors"))
elif stop:
    print(f"stand-in stopping after step {step}: state saved", flush=True)
    emit("done", status="stopped", lora_path=write_lora(f"{train['output_name']}-stopped.safetensors"))
else:
    emit("done", status="completed", lora_path=write_lora(f"{train['output_name']}.safetensors"))

if mode == "eval" and not stop:
    from qbtui.likeness.report import Evaluation, write_evaluation
    from qbtui.likeness.scoring import CellScore, SampleScore

    sample = run / "eval" / "final_w0.80_p00_s1000.png"
    sample.parent.mkdir(exist_ok=True)
    sample.write_bytes(b"png")
    emit("eval", stage="sample", done=1, total=1, lora="final", weight=0.8, path=str(sample), faces=1)
    while not (run / "release-eval").exists():
        if stop:  # stopped during the pass: the training stays completed, the pass is cut short
            raise SystemExit(0)
        time.sleep(0.05)
    scored = (SampleScore(str(sample), "a photo of qb_peter person", "identity", 1000, 1, 0.35),)
    final = CellScore("final", steps, f"{train['output_name']}.safetensors", 0.8, 1.0, 1.0, 0.35, 1.0, None, scored)
    if os.environ.get("STANDIN_EVAL_JSON") == "broken":
        (run / "eval.json").write_text("{")
    else:
        write_evaluation(run / "eval.json", Evaluation(train["run_id"], train["friend_id"], (final,), final, "best likeness"))

if mode == "choice" and not stop:
    from qbtui.likeness.report import Evaluation, write_evaluation
    from qbtui.likeness.scoring import CellScore, SampleScore
    from qbtui.likeness.standing import chosen_fields

    def cell(label, step, lora, likeness):
        sample = run / "eval" / f"{label}_w0.80_p00_s1000.png"
        sample.parent.mkdir(exist_ok=True)
        sample.write_bytes(b"png")
        scored = (SampleScore(str(sample), "a photo of qb_peter person", "identity", 1000, 1, likeness),)
        return CellScore(label, step, lora, 0.8, 1.0, None, likeness, 1.0, None, scored)

    def choose(cells, pending):
        chosen = min(cells, key=lambda cell: cell.likeness)
        write_evaluation(
            run / "eval.json", Evaluation(train["run_id"], train["friend_id"], tuple(cells), chosen, "best likeness")
        )
        if os.environ.get("STANDIN_EVAL_JSON") == "broken" and pending == 2:
            (run / "eval.json").write_text("{")
        emit("eval", **chosen_fields(chosen, "best likeness", pending))

    def wait_for(name):
        while not (run / name).exists():
            if stop:
                raise SystemExit(0)
            time.sleep(0.05)

    half = steps // 2
    checkpoint = cell(str(half), half, Path(write_lora(f"{train['output_name']}-step{half:08d}.safetensors")).name, 0.45)
    choose([checkpoint], 2)  # at `done`: the earlier checkpoint's choice, the final file's 2 weights to score
    wait_for("release-final")
    choose([checkpoint, cell("final", steps, f"{train['output_name']}.safetensors", 0.35)], 1)
    wait_for("release-end")
