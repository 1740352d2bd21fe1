"""Line numbers of keys in TOML text, for error messages that point at the right line.

A light scan of headers and `key =` lines, not a parser: the text has already been
parsed, so only locating matters.
"""

from __future__ import annotations

import re
from typing import Any

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_LINE = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s"'-]+?)\s*=""")


def _split_dotted(text: str) -> tuple[str, ...]:
    """`friends."mary jane".token` -> ("friends", "mary jane", "token")."""
    parts, current, quote = [], "", ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return tuple(parts)


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """Map every table header and `key =` line to its 1-based line number.

    Arrays of tables get their index in the path: `("friends", "peter", "trainings", 0)`.
    Multi-line strings and arrays are skipped well enough for error messages.
    """
    lines: dict[tuple[Any, ...], int] = {}
    aot_counts: dict[tuple[str, ...], int] = {}
    table: tuple[Any, ...] = ()
    in_multiline = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = ""
            continue
        header = _HEADER.match(line)
        if header and "=" not in header.group(2):
            path = _split_dotted(header.group(2))
            if header.group(1) == "[[":
                index = aot_counts.get(path, 0)
                aot_counts[path] = index + 1
                lines.setdefault(path, number)
                table = (*path, index)
            else:
                table = _with_aot_indexes(path, aot_counts)
            lines.setdefault(table, number)
            continue
        key = _KEY_LINE.match(line)
        if key:
            lines.setdefault((*table, *_split_dotted(key.group(1))), number)
            for marker in ('"""', "'''"):
                if line.count(marker) % 2 == 1:
                    in_multiline = marker
    return lines


def _with_aot_indexes(path: tuple[str, ...], aot_counts: dict[tuple[str, ...], int]) -> tuple[Any, ...]:
    """Insert the current index after each array-of-tables prefix of `path`."""
    result: list[Any] = []
    for depth, part in enumerate(path):
        result.append(part)
        prefix = path[: depth + 1]
        if prefix in aot_counts and depth + 1 < len(path):
            result.append(aot_counts[prefix] - 1)
    return tuple(result)
