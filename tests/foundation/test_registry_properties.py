"""Property (issue 10, a): for generated valid layouts of friends (sections, inline tables,
dotted keys, comments everywhere, LF or CRLF), `add` and recording a training keep the file
valid TOML, keep every comment and line ending, and change nothing outside the keys concerned."""

from __future__ import annotations

import copy
import re
import tempfile
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from qbtui.registry import Registry, Training

IDS = ("ada", "ben", "cleo", "dan", "eve")
LAYOUTS = ("section", "inline", "dotted")


class Writer:
    """Builds registry text, adding a numbered comment wherever the drawn flags say so."""

    def __init__(self, draw) -> None:
        self.draw = draw
        self.lines: list[str] = []
        self.count = 0

    def _comment(self) -> str:
        self.count += 1
        return f"# c{self.count} O'Brien said: [not a table] = x"

    def line(self, text: str) -> None:
        if self.draw(st.booleans()):
            self.lines.append(self._comment())
        self.lines.append(f"{text} {self._comment()}" if text and self.draw(st.booleans()) else text)


@st.composite
def registries(draw):
    chosen = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True))
    layouts = {friend: draw(st.sampled_from(LAYOUTS)) for friend in chosen}
    trainings = {friend: draw(st.integers(0, 2)) if layouts[friend] == "section" else 0 for friend in chosen}
    out = Writer(draw)
    out.line("[settings]")
    for key, value in (("datasets_dir", "datasets"), ("lora_dir", "loras"), ("logs_dir", "logs"), ("base_model", "m")):
        out.line(f'{key} = "{value}"')
    out.line('preset = "standard"')
    out.line("")
    out.line("[presets.standard]")
    out.line("max_train_steps = 1200")
    out.line("")
    loose = [friend for friend in chosen if layouts[friend] != "section"]
    if loose:
        out.line("[friends]")
        for friend in loose:
            if layouts[friend] == "inline":
                out.line(f'{friend} = {{ name = "{friend.title()}", token = "qb_{friend}" }}')
            else:
                out.line(f'{friend}.name = "{friend.title()}"')
                out.line(f'{friend}.token = "qb_{friend}"')
        out.line("")
    for friend in chosen:
        if layouts[friend] != "section":
            continue
        out.line(f"[friends.{friend}]")
        out.line(f'name = "{friend.title()}"')
        out.line(f'token = "qb_{friend}"')
        out.line("")
        for index in range(trainings[friend]):
            out.line(f"[[friends.{friend}.trainings]]")
            out.line(f'date = "2026-01-0{index + 1}"')
            out.line(f"steps = {100 + index}")
            out.line("images = 20")
            out.line("")
    text = "\n".join(out.lines) + "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text, chosen


def comment_counts(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for comment in re.findall(r"# c\d+ O'Brien said: \[not a table\] = x", text):
        found[comment] = found.get(comment, 0) + 1
    return found


def without(values: dict, friend_id: str) -> dict:
    rest = copy.deepcopy(values)
    rest.get("friends", {}).pop(friend_id, None)
    return rest


def check_kept(before_text: str, after_text: str) -> None:
    assert comment_counts(after_text) == comment_counts(before_text)
    if "\r\n" in before_text:
        assert after_text.count("\n") == after_text.count("\r\n")
    else:
        assert "\r" not in after_text


SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(registries(), st.data())
def test_recording_a_training_keeps_the_file_and_touches_only_that_friend(case, data) -> None:
    text, chosen = case
    friend_id = data.draw(st.sampled_from(chosen))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.toml"
        path.write_bytes(text.encode())
        before = tomllib.loads(text)
        Registry.load(path).record_training(
            friend_id, Training(date="2026-12-01", steps=60, images=24, preset="standard", run_id="20261201-000000-x-abcd")
        )
        after_text = path.read_bytes().decode()
    after = tomllib.loads(after_text)
    check_kept(text, after_text)
    assert without(after, friend_id) == without(before, friend_id)
    old_friend, new_friend = before["friends"][friend_id], after["friends"][friend_id]
    assert new_friend["trainings"][:-1] == old_friend.get("trainings", [])
    assert new_friend["trainings"][-1]["run_id"] == "20261201-000000-x-abcd"
    assert {k: v for k, v in new_friend.items() if k != "trainings"} == {k: v for k, v in old_friend.items() if k != "trainings"}


@SETTINGS
@given(registries(), st.sampled_from(["Mary Jane", "O'Brien", "Zed"]))
def test_adding_a_friend_keeps_the_file_and_touches_only_the_new_friend(case, name) -> None:
    text, _ = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.toml"
        path.write_bytes(text.encode())
        before = tomllib.loads(text)
        friend = Registry.load(path).add_friend(name)
        after_text = path.read_bytes().decode()
    after = tomllib.loads(after_text)
    check_kept(text, after_text)
    assert without(after, friend.id) == before
    assert after["friends"][friend.id]["name"] == name
