"""One rule for a file name that must stay inside its folder: one path component, nothing more."""

from __future__ import annotations


def bare_name_problem(name: str) -> str | None:
    """Why `name` is not a bare file name (a folder in it, `.`/`..`, a NUL), or None when it is one."""
    if "/" in name or "\\" in name:
        return "is a path, not a bare file name"
    if name in (".", ".."):
        return "is not a file name"
    if "\0" in name:
        return "contains a NUL character"
    if not name:
        return "is empty"
    return None
