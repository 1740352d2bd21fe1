"""Themes from `themes/*.toml` files: load them safely, register them, pick one.

Each file describes one `textual.theme.Theme`. Folders searched, first name wins:
the `themes/` folder next to the registry file (where users add theirs), the user
config dir's `themes/` (`$QBTUI_CONFIG_DIR/themes`), then the themes shipped in the
package (`qbtui/tui/themes_builtin/`, their only copy). A bad file never
crashes the app: it is skipped and reported in one message naming the file and the fix.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import Theme

from qbtui import locations
from qbtui.errors import QbtuiError
from qbtui.safefile import read_text

DEFAULT_THEME = "paper-and-ink"
FALLBACK_THEME = "textual-light"
BUNDLED_THEMES_DIR = Path(__file__).parent / "themes_builtin"

COLOUR_KEYS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground", "background", "surface", "panel")
ALLOWED_KEYS = ("name", "dark", "variables", *COLOUR_KEYS)


@dataclass(frozen=True)
class ThemeLoad:
    """The themes that loaded, and one `path: problem / fix: ...` text per file that did not."""

    themes: tuple[Theme, ...]
    errors: tuple[str, ...]

    def error_message(self) -> str | None:
        """One message for every skipped file, or None when all loaded."""
        if not self.errors:
            return None
        count = len(self.errors)
        heading = f"{count} theme file{'s' if count > 1 else ''} skipped:"
        return "\n".join([heading, *self.errors])


def theme_dirs(registry_path: Path | None, user_dir: Path | None = None) -> list[Path]:
    """Folders to search, in order of precedence."""
    folders = []
    if registry_path is not None:
        folders.append(Path(registry_path).resolve().parent / "themes")
    folders.append(user_dir if user_dir is not None else locations.user_themes_dir())
    folders.append(BUNDLED_THEMES_DIR)
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def load_themes(registry_path: Path | None, *, user_dir: Path | None = None) -> ThemeLoad:
    """Read every `*.toml` theme file; collect bad files as errors instead of raising."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in theme_dirs(registry_path, user_dir):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = read_theme_file(path)
            except QbtuiError as error:
                errors.append(error.describe())
                continue
            themes.setdefault(theme.name, theme)
    return ThemeLoad(themes=tuple(themes.values()), errors=tuple(errors))


def read_theme_file(path: Path) -> Theme:
    """Parse and validate one theme file; raise QbtuiError naming the file and the fix."""
    try:
        data = tomllib.loads(read_text(path))
    except (OSError, UnicodeDecodeError) as error:
        raise QbtuiError(f"cannot read theme: {error}", path=path, fix="make it a readable UTF-8 text file") from error
    except tomllib.TOMLDecodeError as error:
        raise QbtuiError(f"not valid TOML: {error}", path=path, fix="fix the syntax (see themes/README.md)") from error
    unknown = sorted(set(data) - set(ALLOWED_KEYS))
    if unknown:
        raise QbtuiError(f"unknown key {unknown[0]!r}", path=path, fix=f"use only: {', '.join(ALLOWED_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise QbtuiError("missing 'name'", path=path, fix=f'add a line such as name = "{path.stem}"')
    if "primary" not in data:
        raise QbtuiError("missing 'primary' colour", path=path, fix='add a line such as primary = "#005f87"')
    colours: dict[str, Any] = {key: _colour(data[key], key, path) for key in COLOUR_KEYS if key in data}
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise QbtuiError("'dark' must be true or false", path=path, fix="write dark = true or dark = false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(value, str) for value in variables.values()):
        raise QbtuiError("[variables] must map names to strings", path=path, fix='write "footer-key-foreground" = "#005f87"')
    return Theme(name=name.strip(), dark=dark, variables=dict(variables), **colours)


def _colour(value: object, key: str, path: Path) -> str:
    if not isinstance(value, str):
        raise QbtuiError(f"{key!r} must be a colour string", path=path, fix=f'write {key} = "#005f87"')
    try:
        Color.parse(value)
    except ColorParseError as error:
        fix = f'write {key} = "#005f87" (hex, rgb() or a colour name)'
        raise QbtuiError(f"{key!r} is not a colour: {value!r}", path=path, fix=fix) from error
    return value


def apply_themes(app: App, load: ThemeLoad, wanted: str) -> str:
    """Register the loaded themes, switch to `wanted` (or a fallback), report problems.

    Returns the name of the theme now active.
    """
    for theme in load.themes:
        app.register_theme(theme)
    message = load.error_message()
    if message:
        app.notify(message, title="Themes", severity="error", timeout=10)
    available = app.available_themes
    chosen = wanted if wanted in available else DEFAULT_THEME if DEFAULT_THEME in available else FALLBACK_THEME
    if chosen != wanted:
        app.notify(
            f"theme {wanted!r} not found; using {chosen!r}. Add themes/{wanted}.toml or pick another from the palette.",
            title="Themes",
            severity="warning",
        )
    app.theme = chosen
    return chosen
