"""The guide's prompt conversion."""

from __future__ import annotations

import pytest

from qbtui.prompt import build_prompt, convert_names
from qbtui.registry import Friend

STYLE = "illustration in the style of Quentin Blake, watercolor, whimsical"
PETER = Friend(id="peter", name="Peter", token="qb_peter")
MARIA = Friend(id="maria", name="Maria", token="qb_maria")
JO = Friend(id="jo", name="Jo Ann", token="qb_jo")
FRIENDS = {"peter": PETER, "maria": MARIA, "jo": JO}


def prompt(text: str, weight: float = 0.8) -> str:
    return build_prompt(text, FRIENDS, style_suffix=STYLE, weight=weight)


def test_the_guides_example() -> None:
    assert prompt("Peter climbing a tree") == (
        "<lora:qb_peter_lora:0.8>, qb_peter person climbing a tree, "
        "illustration in the style of Quentin Blake, watercolor, whimsical"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("peter reads", "<lora:qb_peter_lora:0.8>, qb_peter person reads"),
        ("PETER reads", "<lora:qb_peter_lora:0.8>, qb_peter person reads"),
        ("Peter's dog barks", "<lora:qb_peter_lora:0.8>, qb_peter person's dog barks"),
        ("Peter\u2019s dog barks", "<lora:qb_peter_lora:0.8>, qb_peter person\u2019s dog barks"),
        ("qb_peter person waves", "<lora:qb_peter_lora:0.8>, qb_peter person waves"),
        ("qb_peter waves", "<lora:qb_peter_lora:0.8>, qb_peter person waves"),
        (
            "Maria and Peter dance, Maria laughs",
            "<lora:qb_maria_lora:0.8>, <lora:qb_peter_lora:0.8>, qb_maria person and qb_peter person dance, qb_maria person laughs",
        ),
        ("Peterson and Peters sail", "Peterson and Peters sail"),
        ("Tom climbs a tree", "Tom climbs a tree"),
        ("Jo  Ann paints", "<lora:qb_jo_lora:0.8>, qb_jo person paints"),
        ("jo paints", "<lora:qb_jo_lora:0.8>, qb_jo person paints"),
    ],
)
def test_conversion_cases(text: str, expected: str) -> None:
    assert prompt(text) == f"{expected}, {STYLE}"


def test_weight_is_formatted_plainly() -> None:
    assert prompt("Peter", weight=0.65).startswith("<lora:qb_peter_lora:0.65>, ")
    assert prompt("Peter", weight=1.0).startswith("<lora:qb_peter_lora:1>, ")


def test_style_is_not_repeated_and_trailing_commas_go() -> None:
    assert prompt(f"Peter waves, {STYLE}") == f"<lora:qb_peter_lora:0.8>, qb_peter person waves, {STYLE}"
    assert prompt("Peter waves, ") == f"<lora:qb_peter_lora:0.8>, qb_peter person waves, {STYLE}"


def test_no_friends_and_no_style() -> None:
    assert build_prompt("Peter waves", [], style_suffix="", weight=0.8) == "Peter waves"
    assert convert_names("Maria waves", [MARIA]) == ("qb_maria person waves", [MARIA])
