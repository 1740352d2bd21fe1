"""Dataset commands: `qbtui check`, `qbtui prep`, `qbtui captions`.

Thin: each handler loads the registry, calls qbtui.dataset and prints the result.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qbtui.errors import QbtuiError
from qbtui.printable import printable
from qbtui.registry import Friend, Registry

if TYPE_CHECKING:
    from qbtui.dataset.problems import Problem

CHECK_EPILOG = """\
examples:
  qbtui check              every friend; exit 1 if any dataset is not ready
  qbtui check peter        one friend, every problem with its fix
  qbtui check --json       machine-readable (codes: see qbtui/dataset/problems.py)
"""

PREP_EPILOG = """\
Every photo that is not a clean 512x512 RGB JPEG is oriented (EXIF), flattened on
white, converted to sRGB, fitted inside 512x512 and letterboxed on white, saved as
<name>.jpg (quality 95). The original moves to <datasets_dir>/<friend>/originals/;
nothing is deleted or overwritten. Running it again changes nothing.

examples:
  qbtui prep peter --dry-run     list what would change
  qbtui prep peter               prepare Peter's photos using both cores
  qbtui prep --all               every friend
"""

CAPTIONS_EPILOG = """\
Options apply in this order: --reencode, --init, --token-first, --rename, --remove,
--add; then --freq prints tag counts (the default when no option is given). A caption
that is not UTF-8 is left alone and listed (exit 1); --reencode rewrites it as UTF-8
(read as Windows-1252) and keeps the original as originals/<name>.not-utf8.txt.

examples:
  qbtui captions peter --init                 write "qb_peter person, <describe>" where missing
  qbtui captions peter --token-first          put qb_peter first in every caption
  qbtui captions peter --reencode             fix captions saved in an old encoding
  qbtui captions peter --rename specs glasses --add "friendly smile"
  qbtui captions peter --freq                 how consistent are the captions?
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add check, prep and captions to the `qbtui` parser."""
    raw = argparse.RawDescriptionHelpFormatter
    check = subparsers.add_parser(
        "check",
        help="list every dataset problem with its fix; exit 1 when a dataset is not ready",
        description="Scan friends' datasets: every problem with the fix qbtui can apply.",
        epilog=CHECK_EPILOG,
        formatter_class=raw,
    )
    check.add_argument("name", nargs="?", metavar="NAME", help="friend id or name (default: every friend)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=check_command)

    prep = subparsers.add_parser(
        "prep",
        help="make every photo a clean 512x512 JPEG, originals kept",
        description="Prepare a friend's photos for training.",
        epilog=PREP_EPILOG,
        formatter_class=raw,
    )
    prep.add_argument("name", nargs="?", metavar="NAME", help="friend id or name")
    prep.add_argument("--all", action="store_true", help="prepare every friend")
    prep.add_argument("--dry-run", action="store_true", help="only list what would change")
    prep.add_argument("--workers", type=int, default=2, metavar="N", help="processes to use (default: 2)")
    prep.add_argument(
        "--mode",
        choices=("face", "letterbox"),
        help="face: crop a square around the face (default: prep_mode in [settings], face); letterbox: fit onto white",
    )
    prep.set_defaults(handler=prep_command)

    captions = subparsers.add_parser(
        "captions",
        help="create captions, put the token first, bulk-edit tags, count tags",
        description="Caption tools for one friend's dataset.",
        epilog=CAPTIONS_EPILOG,
        formatter_class=raw,
    )
    captions.add_argument("name", metavar="NAME", help="friend id or name")
    captions.add_argument("--reencode", action="store_true", help="rewrite captions that are not UTF-8 as UTF-8 (originals kept)")
    captions.add_argument("--init", action="store_true", help="write the caption template where a caption is missing or empty")
    captions.add_argument("--token-first", action="store_true", help="put the trigger token first in every caption")
    captions.add_argument("--add", metavar="TAG", help="append TAG to every caption lacking it")
    captions.add_argument("--remove", metavar="TAG", help="remove TAG from every caption")
    captions.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"), help="rename tag OLD to NEW in every caption")
    captions.add_argument("--freq", action="store_true", help="print how many captions use each tag")
    captions.set_defaults(handler=captions_command)


def _registry(args: argparse.Namespace) -> Registry:
    from qbtui.cli.foundation import load_registry

    return load_registry(args)


def find_friend(registry: Registry, name: str) -> Friend:
    """The friend by id, else by display name (any case)."""
    if name in registry.friends:
        return registry.friends[name]
    for friend in registry.friends.values():
        if friend.name.lower() == name.lower():
            return friend
    return registry.friend(name)


def _problem_json(problem) -> dict:
    return {
        "code": problem.code,
        "severity": problem.severity,
        "message": problem.message,
        "fix": problem.fix,
        "action": problem.action,
        "path": str(problem.path) if problem.path else None,
    }


def _faces_json(status) -> dict | None:
    summary = status.faces
    if summary is None:
        return None
    return {"photos": summary.photos, "with_face": summary.with_face, "poses": summary.poses}


def check_command(args: argparse.Namespace) -> int:
    from qbtui.dataset import face_checks
    from qbtui.dataset.checked import check_friend

    registry = _registry(args)
    friends = [find_friend(registry, args.name)] if args.name else list(registry.friends.values())
    statuses = [(friend, check_friend(registry.settings, friend)) for friend in friends]
    skipped = face_checks.FACE_CHECKS_SKIPPED[0] if face_checks.FACE_CHECKS_SKIPPED else None
    if skipped:
        print(f"note: {printable(skipped)}", file=sys.stderr)
    if args.json:
        payload = [
            {
                "friend": friend.id,
                "folder": str(status.folder),
                "ready": status.ready,
                "images": status.image_count,
                "captions": status.caption_count,
                "problems": [_problem_json(problem) for problem in status.all_problems()],
                "faces": _faces_json(status),
            }
            for friend, status in statuses
        ]
        print(json.dumps({"registry": str(registry.path), "face_checks": skipped or "done", "friends": payload}, indent=2))
    else:
        _print_check(registry, statuses)
    return 0 if all(status.ready for _friend, status in statuses) else 1


def _print_check(registry: Registry, statuses: list) -> None:
    if not statuses:
        print(f"No friends in {printable(registry.path)}: add one with `qbtui add NAME`.")
    for friend, status in statuses:
        verdict = "ready" if status.ready else "NOT READY"
        print(
            f"{printable(friend.name)} ({printable(friend.id)}): {status.image_count} images, {status.caption_count} captions, "
            f"{status.problems_text}: {verdict}"
        )
        print(f"  {printable(status.folder)}")
        if status.faces is not None:
            print(f"  faces: {printable(status.faces.describe())}")
        for problem in status.all_problems():
            print(f"  {problem.severity:<7} {problem.code:<16} {printable(problem.message)}")
            print(f"  {'':<7} {'':<16} fix: {printable(problem.fix)}")


def prep_command(args: argparse.Namespace) -> int:
    from qbtui.dataset import edits

    registry = _registry(args)
    if args.all:
        friends = list(registry.friends.values())
    elif args.name:
        friends = [find_friend(registry, args.name)]
    else:
        raise QbtuiError("prep needs a friend", fix="give NAME (`qbtui prep peter`) or --all")
    trouble = 0
    for friend in friends:
        try:
            report = edits.prepare(
                registry.settings,
                friend,
                dry_run=args.dry_run,
                workers=max(1, args.workers),
                progress=_progress_printer(friend),
                mode=args.mode,
            ).prep
            assert report is not None, "prepare() always reports on the prep"
        except QbtuiError as error:
            if not args.all:
                raise
            print(f"{printable(friend.name)}: not prepared: {error}")
            trouble += 1
            continue
        _print_report(friend, report)
        trouble += len(report.skipped)
    return 1 if trouble else 0


def _progress_printer(friend: Friend):
    def show(done: int, total: int, path) -> None:
        print(f"  [{done}/{total}] {printable(friend.id)}: {printable(path.name)}", file=sys.stderr, flush=True)

    return show


def _print_report(friend: Friend, report) -> None:
    verb = "would prepare" if report.dry_run else "prepared"
    name = printable(friend.name)
    if report.recovered:
        print(f"{name}: finished {report.recovered} photos an interrupted prep left half done")
    for action in report.done:
        print(
            f"  {verb} {printable(action.source.name)} -> {printable(action.target.name)} "
            f"({', '.join(action.reasons)}; {action.framing}); original to {printable(action.kept)}"
        )
        if action.caption_to is not None:
            print(f"    caption {printable(action.caption_from.name)} -> {printable(action.caption_to.name)}")
    for problem in report.skipped:
        print(f"  skipped {printable(problem.message)}\n    fix: {printable(problem.fix)}")
    print(f"{name}: {verb} {len(report.done)}, skipped {len(report.skipped)}, already clean {report.unchanged}")


def captions_command(args: argparse.Namespace) -> int:
    from qbtui.dataset import edits, tag_frequencies

    registry = _registry(args)
    friend = find_friend(registry, args.name)
    settings = registry.settings
    steps = [
        ("re-encoded", args.reencode and (lambda: edits.reencode_captions(settings, friend))),
        ("created", args.init and (lambda: edits.init_captions(settings, friend))),
        ("token first in", args.token_first and (lambda: edits.token_first(settings, friend))),
        ("renamed in", args.rename and (lambda: edits.rename_tag(settings, friend, *args.rename))),
        ("removed from", args.remove and (lambda: edits.remove_tag(settings, friend, args.remove))),
        ("added to", args.add and (lambda: edits.add_tag(settings, friend, args.add))),
    ]
    chosen = [(label, step) for label, step in steps if step]
    skipped: dict[Path | None, Problem] = {}
    for label, step in chosen:
        edit = step()
        print(f"{label} {len(edit.changed)} captions")
        for note in edit.notes if label == "re-encoded" else ():
            print(f"  {printable(note)}")
        skipped.update((problem.path, problem) for problem in edit.skipped)
    for problem in skipped.values():
        print(f"  left alone: {printable(problem.message)}\n    fix: {printable(problem.fix)}")
    if args.freq or not chosen:
        frequencies = tag_frequencies(settings, friend)
        if not frequencies:
            print(f"{printable(friend.name)} has no captions yet: `qbtui captions {printable(friend.id)} --init`")
        shown = [(printable(tag), count) for tag, count in frequencies]
        width = max((len(tag) for tag, _count in shown), default=0)
        for tag, count in shown:
            print(f"  {tag:<{width}}  {count}")
    return 1 if skipped else 0
