"""Picture commands: `cards` (AUTOMATIC1111's cards beside each LoRA) and `draw` (scenes drawn with the friends' LoRAs)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qbtui.cli.foundation import load_registry
from qbtui.cli.runs import add_subcommand
from qbtui.printable import printable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the picture subcommands to the `qbtui` parser."""
    cards = add_subcommand(
        subparsers,
        "cards",
        "write AUTOMATIC1111's card (<lora>.json, <lora>.png) beside each trained LoRA; your edits are kept",
        "  qbtui cards\n  qbtui cards peter",
    )
    cards.add_argument("names", nargs="*", metavar="NAME", help="friend ids (default: every trained friend)")
    cards.set_defaults(handler=cards_command)

    draw = add_subcommand(
        subparsers,
        "draw",
        "draw a scene with your friends' LoRAs in the house style (PNGs with A1111's PNG Info)",
        '  qbtui draw "Peter and Maria climbing a tree" --n 4\n'
        "  qbtui draw --from scenes.txt --seed 42 --json\n"
        '  qbtui draw "Ada at the beach" --size 512x768 --steps 20 --out ~/flashcards',
    )
    draw.add_argument("scene", nargs="*", metavar="SCENE", help="the scene; friends' names become their tokens and LoRAs")
    draw.add_argument("--from", dest="scenes_file", type=Path, metavar="FILE", help="a file of scenes, one a line")
    draw.add_argument("--n", type=int, default=1, help="images per scene (default: 1)")
    draw.add_argument("--seed", type=int, help="seed of the first image; image i gets seed+i (default: random)")
    draw.add_argument("--steps", type=int, help="sampling steps (default: settings.draw_steps, 30)")
    draw.add_argument("--size", help="WIDTHxHEIGHT (default: the model's own, 512x512 for SD 1.5)")
    draw.add_argument("--out", type=Path, metavar="DIR", help="folder for the PNGs (default: settings.drawings_dir)")
    draw.add_argument("--json", action="store_true", help="print one JSON object per drawing instead of its path")
    draw.set_defaults(handler=draw_command)


def cards_command(args: argparse.Namespace) -> int:
    from qbtui.cards import refresh_cards

    registry = load_registry(args)
    outcomes = refresh_cards(registry, args.names or None)
    if not outcomes:
        print("No trained LoRA files in the LoRA folder yet: train a friend first (`qbtui train NAME`).")
    for outcome in outcomes:
        print(printable(outcome.line()))
    return 0


def _say_progress(event: dict[str, Any], total: int) -> None:
    """Progress on stderr, so stdout carries only the results."""
    kind = event["event"]
    if kind == "loading":
        print(f"loading {printable(event['model'])} ...", file=sys.stderr)
    elif kind == "loaded":
        print(f"model ready in {event['seconds']:.1f} s on {event['device']}", file=sys.stderr)
    elif kind == "step" and sys.stderr.isatty():
        print(f"\rimage {event['image'] + 1}/{total}: step {event['step']}/{event['steps']}", end="", file=sys.stderr)
    elif kind == "image" and sys.stderr.isatty():
        print(file=sys.stderr)


def draw_command(args: argparse.Namespace) -> int:
    from qbtui.draw.plan import plan_drawings, read_scenes
    from qbtui.draw.run import run_plan
    from qbtui.errors import QbtuiError

    registry = load_registry(args)
    scenes = read_scenes(args.scenes_file) if args.scenes_file else []
    if args.scene:
        scenes.append(" ".join(args.scene))
    if not scenes:
        raise QbtuiError("no scene given", fix='qbtui draw "Peter climbing a tree", or --from scenes.txt')
    plan = plan_drawings(registry, scenes, n=args.n, seed=args.seed, steps=args.steps, size=args.size, out_dir=args.out)
    from qbtui.scene_check import scene_warnings

    for scene in scenes:
        for warning in scene_warnings(scene, registry.friends, registry.settings):
            print(f"warning: {printable(warning)}", file=sys.stderr)
    images = run_plan(plan, lambda event: _say_progress(event, plan.image_count))
    for image in images:
        if args.json:
            print(json.dumps({key: value for key, value in image.items() if key not in ("event", "job", "image", "index")}))
        else:
            print(printable(image["path"]))
    return 0
