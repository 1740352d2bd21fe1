"""Editing hand-written registry layouts with tomlkit without breaking them.

A friend may be written as a `[friends.<id>]` section, as an inline table under
`[friends]` (`ada = { name = "Ada", token = "qb_ada" }`) or with dotted keys
(`cleo.name = "Cleo"`). Adding an array of tables (`[[friends.<id>.trainings]]`) to the
last two would give invalid TOML, so `friend_section` first turns such a friend into a
section of its own, keeping every value's comment. The registry's own before/after
check refuses any edit whose result differs from the intended change.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import tomlkit
from tomlkit.items import Comment, InlineTable, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from qbtui.registry.model import RegistryError

_BARE_LF = re.compile(r"(?<!\r)\n")


def friend_section(document: TOMLDocument, friend_id: str) -> Any:
    """The friend's `[friends.<id>]` table, converting an inline or dotted-key friend to one."""
    friends = document["friends"]
    current = friends[friend_id]
    if not isinstance(current, InlineTable) and not _is_dotted(document, friend_id):
        return current
    if isinstance(friends, InlineTable):
        raise RegistryError(
            "qbtui cannot edit [friends] written as an inline table",
            fix="write each friend as its own [friends.<id>] section",
        )
    leaves, comment = _friend_leaves(document, friend_id)
    del friends[friend_id]
    section = tomlkit.table()
    if comment:
        section.trivia.comment_ws = " "
        section.trivia.comment = comment
    for key, value in leaves:
        value.trivia.indent = ""
        value.trivia.trail = "\n"
        section.append(key, value)
    section.add(tomlkit.nl())
    friends[friend_id] = section
    return friends[friend_id]


def _friends_entries(document: TOMLDocument) -> list[tuple[Any, Any]]:
    """The (key, item) pairs of every `[friends]` part in file order: one table, or several when other
    tables are written between friends (tomlkit then hands back a proxy without a body of its own)."""
    return [
        entry
        for key, part in document.body
        if key is not None and key.key == "friends" and isinstance(part, Table)
        for entry in part.value.body
    ]


def _is_dotted(document: TOMLDocument, friend_id: str) -> bool:
    return any(key is not None and key.key == friend_id and key.is_dotted() for key, _ in _friends_entries(document))


def _friend_leaves(document: TOMLDocument, friend_id: str) -> tuple[list[tuple[Any, Any]], str]:
    """The (key, item) pairs written for the friend, in file order, and an inline table's comment."""
    leaves: list[tuple[Any, Any]] = []
    comment = ""
    for key, item in _friends_entries(document):
        if key is None or key.key != friend_id:
            continue
        if isinstance(item, InlineTable):
            comment = item.trivia.comment
        if not isinstance(item, (InlineTable, Table)):
            raise RegistryError(f"friends.{friend_id} is not a table", fix=f"write it as a [friends.{friend_id}] section")
        for inner_key, inner in item.value.body:
            if inner_key is None:
                continue
            if isinstance(inner, Table) and inner_key.is_dotted():
                raise RegistryError(
                    f"qbtui cannot edit friends.{friend_id} written with nested dotted keys",
                    fix=f"write it as a [friends.{friend_id}] section",
                )
            leaves.append((inner_key, inner))
    return leaves, comment


def move_tail_comments(source: Table, destination: Table) -> None:
    """Move the comments ending `source` (they introduce what follows it) to the end of `destination`.

    A training block appended to a friend then sits above the comment that heads the
    next friend's section, not below it. Blank lines before the comments stay.
    """
    if not isinstance(source, Table):
        return
    body = source.value.body
    start = len(body)
    while start > 0 and body[start - 1][0] is None and isinstance(body[start - 1][1], (Comment, Whitespace)):
        start -= 1
    while start < len(body) and isinstance(body[start][1], Whitespace):
        start += 1
    tail = [item for _, item in body[start:] if isinstance(item, (Comment, Whitespace))]  # all are, by the loops above
    del body[start:]
    for item in tail:
        destination.add(copy.copy(item))


def keep_line_endings(original: str, edited: str) -> str:
    """`edited` with the line ending `original` uses (CRLF files stay CRLF)."""
    if original.count("\r\n") * 2 > original.count("\n"):
        return _BARE_LF.sub("\r\n", edited)
    return edited
