"""Core commands: status, add, registry table, prompt, demo, locate; and the bare `qbtui`.

Handlers load the registry through `load_registry(args)` (other topic modules use it too)
and import heavy layers (dataset, runs, the dashboard) only when they run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qbtui import locations
from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.registry import LORA_WEIGHT_FIX, Registry, Settings, Training, dataset_dir, locate_registry, lora_weight_problem

TABLE_HEADER = ("Name", "Token", "Date Trained", "Steps", "Images", "Likeness", "Notes", "Card")


def load_registry(args: argparse.Namespace) -> Registry:
    """The registry chosen by --registry / $QBTUI_REGISTRY / ./registry.toml / the user's."""
    return Registry.load(locate_registry(getattr(args, "registry", None)))


def _subparser(subparsers: argparse._SubParsersAction, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the core subcommands to the `qbtui` parser."""
    status = _subparser(
        subparsers, "status", "per friend: token, images, captions, problems, last training, latest run", "qbtui status --json"
    )
    status.add_argument("--json", action="store_true", help="print JSON (shape in the README)")
    status.set_defaults(handler=status_command)

    add = _subparser(
        subparsers,
        "add",
        "add a friend to the registry and create their dataset folder",
        'qbtui add Maria --describe "woman, long dark hair"',
    )
    add.add_argument("name", metavar="NAME", help="display name; its lowercase form names the folder (Maria -> maria/30_maria)")
    add.add_argument("--token", help="trigger token (default: qb_<name>)")
    add.add_argument("--repeats", type=int, default=30, help="the folder's N_ prefix (default: 30, as in the guide)")
    add.add_argument("--describe", default="", help="caption description after the token, e.g. 'man, curly hair, glasses'")
    add.add_argument("--notes", default="", help="free notes kept in the registry")
    add.set_defaults(handler=add_command)

    registry = _subparser(subparsers, "registry", "views of the registry", "qbtui registry table")
    views = registry.add_subparsers(dest="view", metavar="VIEW", required=True)
    table = _subparser(
        views, "table", "print the guide's Markdown table of trained characters", "qbtui registry table >> TRAINING.md"
    )
    table.set_defaults(handler=table_command)

    prompt = _subparser(
        subparsers,
        "prompt",
        "turn a scene into an Automatic1111 prompt with your friends' LoRAs",
        'qbtui prompt "Peter climbing a tree" --weight 0.7',
    )
    prompt.add_argument("text", nargs="+", metavar="TEXT", help="the scene; friends' names become their tokens")
    prompt.add_argument(
        "--weight", type=float, help="LoRA weight for everyone (default: each friend's chosen weight, else settings.lora_weight)"
    )
    prompt.set_defaults(handler=prompt_command)

    demo = _subparser(
        subparsers,
        "demo",
        "build a self-contained demo workspace offline and open the dashboard on it",
        "qbtui demo --no-open /tmp/qbtui-demo",
    )
    demo.add_argument(
        "dir",
        nargs="?",
        type=Path,
        default=locations.DEMO_DIR,
        metavar="DIR",
        help=f"where to build it (default: {locations.DEMO_DIR})",
    )
    demo.add_argument("--no-open", action="store_true", help="only build it")
    demo.add_argument("--force", action="store_true", help="replace an existing demo in DIR")
    demo.set_defaults(handler=demo_command)

    locate = _subparser(
        subparsers,
        "locate",
        "print where qbtui reads and writes: registry, config, themes, logs",
        "qbtui --registry .demo/registry.toml locate",
    )
    locate.set_defaults(handler=locate_command)


def status_lines(registry: Registry) -> list[str]:
    """The human table of `qbtui status`."""
    from qbtui.overview import friend_overviews

    rows = [("FRIEND", "TOKEN", "IMAGES", "CAPTIONS", "PROBLEMS", "DATASET", "LAST TRAINING", "LATEST RUN")]
    for overview in friend_overviews(registry):
        training, run = overview.last_training, overview.latest_run
        rows.append(
            (
                overview.friend.name,
                overview.friend.token,
                str(overview.status.image_count),
                str(overview.status.caption_count),
                str(overview.status.problem_count),
                "ready" if overview.status.ready else "blocked",
                f"{training.date} ({training.steps} steps)" if training else "-",
                f"{run.state} {run.step}/{run.max_steps}" if run else "-",
            )
        )
    if len(rows) == 1:
        return [f"registry: {printable(registry.path)}", "No friends yet: add one with `qbtui add NAME`."]
    shown = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[column]) for row in shown) for column in range(len(shown[0]))]
    numeric = {2, 3, 4}
    lines = [f"registry: {printable(registry.path)}"]
    for row in shown:
        cells = [
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def status_command(args: argparse.Namespace) -> int:
    registry = load_registry(args)
    if args.json:
        from qbtui.overview import friend_overviews

        payload = {"registry": str(registry.path), "friends": [overview.to_json() for overview in friend_overviews(registry)]}
        print(json.dumps(payload, indent=2))
    else:
        print("\n".join(status_lines(registry)))
    return 0


def add_command(args: argparse.Namespace) -> int:
    registry = load_registry(args)
    friend = registry.add_friend(args.name, token=args.token, repeats=args.repeats, describe=args.describe, notes=args.notes)
    folder = dataset_dir(registry.settings, friend)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise QbtuiError(
            f"added {friend.name} to the registry, but could not create the folder: {error.strerror}",
            path=folder,
            fix=f"make {registry.settings.datasets_dir} writable and create {folder} yourself",
        ) from None
    print(f"Added {printable(friend.name)} (id {friend.id}, token {friend.token}) to {printable(registry.path)}")
    print(f"Put 20-40 photos in {printable(folder)}")
    return 0


def _cell(value: object) -> str:
    return printable(str(value).replace("|", "\\|"))


def _likeness(training: Training) -> str:
    """`0.412 (qb_peter_lora-step00000800 @ 0.8)`: the evaluation's choice, or empty."""
    if training.likeness is None or training.chosen_weight is None:
        return ""
    return f"{training.likeness:.3f} ({Path(training.chosen_lora).stem} @ {training.chosen_weight:g})"


def registry_table(registry: Registry) -> str:
    """The guide's 'Trained Characters Registry' table: one row per training, empty cells for untrained friends."""
    from qbtui.cards import card_of

    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "|".join("-" * (len(title) + 2) for title in TABLE_HEADER) + "|"]
    for friend in registry.friends.values():
        rows: list[tuple[str | int, ...]] = [
            (
                training.date,
                training.steps,
                training.images,
                _likeness(training),
                training.notes,
                _shown_path(registry, card_of(registry.settings, training)),
            )
            for training in friend.trainings
        ] or [("", "", "", "", "", "")]
        for date, steps, images, likeness, notes, card in rows:
            cells = [_cell(value) for value in (friend.name, friend.token, date, steps, images, likeness, notes, card)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _shown_path(registry: Registry, path: Path | None) -> str:
    """A path relative to the registry's folder when inside it (as the registry writes paths), else absolute."""
    if path is None:
        return ""
    try:
        return str(path.relative_to(registry.path.parent))
    except ValueError:
        return str(path)


def table_command(args: argparse.Namespace) -> int:
    print(registry_table(load_registry(args)))
    return 0


def prompt_command(args: argparse.Namespace) -> int:
    from qbtui.prompt import build_prompt

    registry = load_registry(args)
    weight = registry.settings.lora_weight if args.weight is None else args.weight
    problem = lora_weight_problem(weight) if args.weight is not None else None
    if problem:
        raise QbtuiError(f"--weight {problem}", fix=LORA_WEIGHT_FIX)
    text = " ".join(args.text)
    suffix = registry.settings.style_suffix
    from qbtui.scene_check import scene_warnings

    for warning in scene_warnings(text, registry.friends, registry.settings):
        print(f"warning: {printable(warning)}", file=sys.stderr)
    print(printable(build_prompt(text, registry.friends, style_suffix=suffix, weight=weight, use_choice=args.weight is None)))
    return 0


def demo_command(args: argparse.Namespace) -> int:
    from qbtui.demo import build_demo

    registry_path = build_demo(args.dir, force=args.force, progress=print)
    if args.no_open:
        print(f"open it with: qbtui --registry {registry_path}")
        return 0
    return _run_dashboard(registry_path)


def locate_command(args: argparse.Namespace) -> int:
    path = locate_registry(args.registry)
    print(f"registry:    {printable(path)}")
    print(f"config dir:  {printable(locations.config_dir())}")
    from qbtui.tui.themes import theme_dirs

    print(f"themes dirs: {', '.join(printable(folder) for folder in theme_dirs(path))}")
    try:
        settings = Registry.load(path).settings
    except QbtuiError as error:
        print(f"logs dir:    unknown ({printable(error.message)})")
        return 0
    print(f"datasets:    {printable(settings.datasets_dir)}")
    print(f"loras:       {printable(settings.lora_dir)}")
    print(f"logs dir:    {printable(settings.logs_dir)}")
    print("\n".join(map(printable, tokenizer_lines(settings))))
    return 0


def tokenizer_lines(settings: Settings) -> list[str]:
    """Where the base model's CLIP tokenizer was found, or every place looked, in order."""
    from qbtui.trainer.tokenizer_places import search_tokenizer

    try:
        search = search_tokenizer(
            settings.base_model,
            tokenizer_dir=settings.tokenizer,
            tokenizer_cache_dir=settings.tokenizer_cache_dir,
            comfyui_dir=settings.comfyui_dir,
        )
    except QbtuiError as error:
        return [f"tokenizer:   unusable: {error.describe()}"]
    if search.found is not None:
        return [f"tokenizer:   {search.found.folder} ({search.found.what})"]
    return ["tokenizer:   not found; looked in, in order:", *(f"  {place.describe()}" for place in search.looked)]


def _run_dashboard(registry_path: Path) -> int:
    Registry.load(registry_path)
    from qbtui.tui import run_app

    return run_app(registry_path)


def open_dashboard(args: argparse.Namespace) -> int:
    """What the bare `qbtui` does: validate the registry, then open the dashboard on it."""
    return _run_dashboard(locate_registry(getattr(args, "registry", None)))
