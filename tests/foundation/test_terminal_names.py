"""Names shown on a terminal: a file, caption or friend name holding control characters is
printed with visible escapes by every command, and kept exact in JSON."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from qbtui.errors import QbtuiError
from qbtui.printable import printable

HOSTILE = "new\nline\x1b[2J.jpg"
# Every control character a terminal acts on, but the newlines that end the lines of output.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _training_folder(registry: Path, friend_id: str) -> Path:
    return next((registry.parent / "datasets" / friend_id).glob(f"*_{friend_id}"))


def _with_hostile_photo(registry: Path) -> Path:
    folder = _training_folder(registry, "ada")
    hostile = folder / HOSTILE
    shutil.copyfile(next(folder.glob("*.jpg")), hostile)
    return hostile


def _assert_clean(text: str) -> None:
    assert not RAW_CONTROL.search(text), repr(text)


def test_printable_writes_control_characters_as_escapes() -> None:
    assert printable(HOSTILE) == "new\\nline\\x1b[2J.jpg"
    assert printable("a\u202eb\udcff\x9b\t") == "a\\u202eb\\udcff\\x9b\\t"
    assert printable("Zoë Ōno 山田") == "Zoë Ōno 山田"
    assert printable("one\ntwo\x1b", keep_newlines=True) == "one\ntwo\\x1b"


def test_an_error_names_its_file_with_escapes() -> None:
    """The path is escaped whole; a message keeps its own line breaks, so a name inside it is
    escaped where the message is composed (a raw one still has its ESC escaped)."""
    error = QbtuiError(f"cannot read {printable(HOSTILE)} or {HOSTILE}", path=Path("/x") / HOSTILE, fix="rename \x1b it")
    assert error.describe() == (
        f"/x/{printable(HOSTILE)}: cannot read {printable(HOSTILE)} or new\nline\\x1b[2J.jpg\n  fix: rename \\x1b it"
    )


def test_check_prints_a_hostile_file_name_escaped(run_cli, demo_registry: Path) -> None:
    _with_hostile_photo(demo_registry)
    _code, out, err = run_cli("--registry", demo_registry, "check", "ada")
    _assert_clean(out + err)
    assert "new\\nline\\x1b[2J.jpg" in out


def test_check_json_keeps_the_exact_name(run_cli, demo_registry: Path) -> None:
    hostile = _with_hostile_photo(demo_registry)
    _code, out, _err = run_cli("--registry", demo_registry, "check", "ada", "--json")
    problems = json.loads(out)["friends"][0]["problems"]
    assert any(problem["path"] == str(hostile) for problem in problems)


def test_captions_print_a_hostile_tag_escaped(run_cli, demo_registry: Path) -> None:
    _with_hostile_photo(demo_registry)
    folder = _training_folder(demo_registry, "ada")
    caption = next(folder.glob("*.txt"))
    caption.write_text("qb_ada person, \x1b]0;owned\x07 hat\n", encoding="utf-8")
    code, out, err = run_cli("--registry", demo_registry, "captions", "ada", "--init", "--freq")
    _assert_clean(out + err)
    assert "\\x1b]0;owned\\x07 hat" in out and code in (0, 1)


def test_status_prints_a_hostile_friend_name_escaped(run_cli, demo_registry: Path) -> None:
    text = demo_registry.read_text(encoding="utf-8")
    demo_registry.write_text(text.replace('name = "Ada"', 'name = "Ada\\u001b[2J\\u202e"', 1), encoding="utf-8")
    code, out, err = run_cli("--registry", demo_registry, "status")
    _assert_clean(out + err)
    assert "Ada\\x1b[2J\\u202e" in out and code == 0
    _code, out, _err = run_cli("--registry", demo_registry, "status", "--json")
    assert json.loads(out)["friends"][0]["name"] == "Ada\x1b[2J\u202e"


def test_runs_prints_a_hostile_folder_name_escaped(run_cli, demo_registry: Path) -> None:
    run = demo_registry.parent / "logs" / "ada\x1b[2J" / "20250101-000000-ada-00aa"
    run.mkdir(parents=True)
    (run / "run.toml").write_text("garbage \x1b[2J = = =\n", encoding="utf-8")
    _code, out, err = run_cli("--registry", demo_registry, "runs")
    _assert_clean(out + err)
    assert "ada\\x1b[2J" in out


def test_an_error_of_several_lines_prints_them_as_lines_with_escapes_inside() -> None:
    error = QbtuiError("two problems:\n  - a\x1b[2J.jpg", fix="rename them\n  then retry")
    assert error.describe() == "two problems:\n  - a\\x1b[2J.jpg\n  fix: rename them\n  then retry"


def test_a_logged_warning_of_several_lines_prints_them_as_lines() -> None:
    from qbtui.runs.format import format_event

    text = format_event({"t": 0, "type": "warning", "message": "the card was not written\n  fix: free \x1b[31m"})
    assert text.endswith("warning: the card was not written\n  fix: free \\x1b[31m")
