"""Picture commands: `cards` (AUTOMATIC1111's cards beside each LoRA) and `draw` (scenes drawn with the friends' LoRAs)."""

from __future__ import annotations

import argparse

from qbtui.cli.foundation import load_registry


def _subparser(subparsers: argparse._SubParsersAction, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=f"examples:\n{examples}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the picture subcommands to the `qbtui` parser."""
    cards = _subparser(
        subparsers,
        "cards",
        "write AUTOMATIC1111's card (<lora>.json, <lora>.preview.png) beside each trained LoRA; your edits are kept",
        "  qbtui cards\n  qbtui cards peter",
    )
    cards.add_argument("names", nargs="*", metavar="NAME", help="friend ids (default: every trained friend)")
    cards.set_defaults(handler=cards_command)


def cards_command(args: argparse.Namespace) -> int:
    from qbtui.cards import refresh_cards

    registry = load_registry(args)
    outcomes = refresh_cards(registry, args.names or None)
    if not outcomes:
        print("No trained LoRA files in the LoRA folder yet: train a friend first (`qbtui train NAME`).")
    for outcome in outcomes:
        print(outcome.line())
    return 0
