"""Text made safe to show on a terminal: every control character as a visible escape.

A file name, caption or friend name may hold an escape sequence (`\\x1b[2J` clears the
screen), a newline (it splits a line of output), a bidirectional override (it reverses
what follows) or an undecodable byte (a lone surrogate that would crash the write).
`printable` turns each into a Python-style escape (`\\x1b`, `\\n`, `\\u202e`, `\\udcff`);
every other character, non-ASCII letters included, stays as it is. JSON output does not
use it: `json.dumps` escapes control characters itself and keeps the exact name.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL, the bidirectional marks, embeddings, overrides and isolates,
# the line and paragraph separators, and lone surrogates (undecodable bytes of a file name).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, *, keep_newlines: bool = False) -> str:
    """`str(value)` with every control character written as a visible escape; with
    `keep_newlines`, a newline stays one (a composed message of several lines)."""
    if keep_newlines:
        return "\n".join(CONTROL_CHARACTERS.sub(_escape, line) for line in str(value).split("\n"))
    return CONTROL_CHARACTERS.sub(_escape, str(value))


def printable_markup(value: object) -> str:
    """`printable(value)` to put inside Textual markup: every `[` escaped, so a name never
    opens a tag or a `[$variable]` (rich's `escape` leaves `[$x]` alone)."""
    return printable(value).replace("[", "\\[")
