"""`qbtui eval`: score a finished run's checkpoints and weights for likeness and choose one."""

from __future__ import annotations

import argparse
import json
import sys

from qbtui.cli.foundation import load_registry
from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.registry import LORA_WEIGHT_FIX, lora_weight_problem


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `qbtui eval` to the `qbtui` parser."""
    evaluate = subparsers.add_parser(
        "eval",
        help="score every checkpoint and weight of a run for likeness and choose one (a run of its own)",
        description=(
            "Sample every checkpoint and the final LoRA of a finished run at each weight and at 0 (the base model), "
            "compare the faces with the friend's photos, choose the best, and record the choice in the registry."
        ),
        epilog=(
            "examples:\n  qbtui eval peter\n  qbtui eval 20261125-034512-peter-a1b2 --weights 0.5,0.7,0.9 --seeds 3\n"
            "  qbtui eval peter --show --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("target", metavar="RUN|NAME", help="a run id, or a friend id (their latest run)")
    evaluate.add_argument("--weights", type=_weights, help="LoRA weights to score, e.g. 0.6,0.8,1.0 (default: the run's)")
    evaluate.add_argument("--seeds", type=int, help="seeds per prompt (default: settings.eval_seeds, 2)")
    evaluate.add_argument("--json", action="store_true", help="print the scores and the choice as JSON")
    evaluate.add_argument("--show", action="store_true", help="print the stored evaluation without sampling again")
    evaluate.add_argument("--detach", action="store_true", help="start the evaluation run and return at once")
    evaluate.set_defaults(handler=eval_command)


def _weights(text: str) -> list[float]:
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers, e.g. 0.6,0.8,1.0") from None
    for weight in weights:
        problem = lora_weight_problem(weight)
        if problem:
            raise argparse.ArgumentTypeError(f"a weight {problem}; {LORA_WEIGHT_FIX}")
    return weights


def eval_command(args: argparse.Namespace) -> int:
    from qbtui.runs.manager import find_run

    registry = load_registry(args)
    if args.show:
        return _show(find_run(registry.settings, args.target).path, as_json=args.json)
    from qbtui.cli.runs import follow_events
    from qbtui.rundir import RunDir
    from qbtui.runs.evaluation import evaluated_run, start_evaluation
    from qbtui.runs.info import read_run

    info = start_evaluation(registry, args.target, weights=args.weights, seeds=args.seeds)
    target = evaluated_run(RunDir(info.path))
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    say(f"started evaluation run {info.run_id} of run {target.run_id}")
    say(f"  follow: qbtui logs {info.run_id} -f    stop: qbtui stop {info.run_id}")
    if args.detach:
        return 0
    try:
        if args.json:
            _wait_quietly(info.path)
        else:
            follow_events(info.path, follow=True)
    except KeyboardInterrupt:
        print("\nstopped following; the evaluation goes on (`qbtui runs` shows it)", file=sys.stderr)
        return 130
    final = read_run(info.path)
    if final.state != "completed":
        say(f"evaluation run {final.run_id} ended: {final.state}" + (f" ({printable(final.error)})" if final.error else ""))
        return 1
    _say_kept_choice(target, say)
    return _show(target.path, as_json=args.json, table=args.json)


def _say_kept_choice(target, say) -> None:
    """After a pass that chose nothing: the earlier choice its training keeps (the log said `choice: none`)."""
    from qbtui.likeness.record import KEPT
    from qbtui.likeness.report import choice_line, read_evaluation

    evaluation = read_evaluation(target.eval_json)
    if evaluation is not None and evaluation.reason.startswith(KEPT):
        say(printable(choice_line(evaluation)))


def _wait_quietly(run_path) -> None:
    import time

    from qbtui.runs.info import read_run

    while read_run(run_path).live:
        time.sleep(0.1)


def _show(run_path, *, as_json: bool, table: bool = True) -> int:
    from qbtui.likeness.report import evaluation_table
    from qbtui.runs.evaluation import evaluation_status

    status = evaluation_status(run_path)
    if status.running is not None:
        _follow_pass(status.running.path, as_json=as_json)
        status = evaluation_status(run_path)
    evaluation = status.evaluation
    if evaluation is None:
        raise QbtuiError(status.missing_words, path=run_path, fix=status.missing_fix)
    if as_json:
        print(json.dumps(evaluation.to_json(), indent=2))
    elif table:
        print("\n".join(map(printable, evaluation_table(evaluation))))
    return 0


def _follow_pass(pass_path, *, as_json: bool) -> None:
    """Say that a likeness pass runs and follow its progress (one line per change) until it ends."""
    import time

    from qbtui.runs.info import read_run

    say = (lambda text: print(text, file=sys.stderr, flush=True)) if as_json else (lambda text: print(text, flush=True))
    info = read_run(pass_path)
    say(f"the likeness pass is running ({info.run_id}); following it, ctrl-c leaves it running")
    shown = ""
    while info.after_training:
        if info.progress_words != shown:
            shown = info.progress_words
            say(f"  {shown}")
        time.sleep(0.2)
        info = read_run(pass_path)
