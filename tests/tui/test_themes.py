"""Themes: files load into Textual themes, bad files are collected, the app falls back."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.color import Color

from qbtui.tui.themes import (
    BUNDLED_THEMES_DIR,
    COLOUR_KEYS,
    DEFAULT_THEME,
    ThemeLoad,
    apply_themes,
    load_themes,
    read_theme_file,
    theme_dirs,
)

REPO_THEMES = Path(__file__).resolve().parents[2] / "themes"
XTERM_LEVELS = {0x00, 0x5F, 0x87, 0xAF, 0xD7, 0xFF}
XTERM_GREYS = {8 + 10 * step for step in range(24)}


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _relative_luminance(colour: Color) -> float:
    def channel(value: int) -> float:
        scaled = value / 255
        return scaled / 12.92 if scaled <= 0.03928 else ((scaled + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def _contrast(first: str, second: str) -> float:
    lighter, darker = sorted((_relative_luminance(Color.parse(first)), _relative_luminance(Color.parse(second))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_bundled_themes_load_and_include_the_house_style(tmp_path: Path) -> None:
    load = load_themes(None, user_dir=tmp_path / "none")
    assert load.errors == ()
    themes = {theme.name: theme for theme in load.themes}
    assert {"paper-and-ink", "ink-wash"} <= set(themes)
    assert themes[DEFAULT_THEME].dark is False
    assert themes["ink-wash"].dark is True
    assert themes[DEFAULT_THEME].background == "#ffffd7"


def test_the_shipped_themes_exist_once_and_are_searched_once(tmp_path) -> None:
    assert not list(REPO_THEMES.glob("*.toml")), "themes are shipped in qbtui/tui/themes_builtin/ only"
    assert {path.stem for path in BUNDLED_THEMES_DIR.glob("*.toml")} >= {"paper-and-ink", "ink-wash", "sepia-sketch"}
    folders = theme_dirs(tmp_path / "registry.toml", tmp_path / "user")
    assert folders == [tmp_path / "themes", tmp_path / "user", BUNDLED_THEMES_DIR]


def test_shipped_colours_are_xterm_256_entries_with_legible_text() -> None:
    for path in BUNDLED_THEMES_DIR.glob("*.toml"):
        theme = read_theme_file(path)
        colours = [getattr(theme, key) for key in COLOUR_KEYS]
        for colour in colours:
            parsed = Color.parse(colour)
            channels = {parsed.r, parsed.g, parsed.b}
            is_grey = parsed.r == parsed.g == parsed.b and parsed.r in XTERM_GREYS
            assert channels <= XTERM_LEVELS or is_grey, f"{path.name}: {colour} is not in the xterm 256 palette"
        assert _contrast(theme.foreground, theme.background) >= 7, path.name
        for colour in (theme.primary, theme.error, theme.warning, theme.success):
            assert _contrast(colour, theme.background) >= 4.5, f"{path.name}: {colour}"


def test_user_themes_next_to_the_registry_win_and_bad_files_are_collected(tmp_path: Path) -> None:
    registry = tmp_path / "registry.toml"
    registry.write_text("")
    _write(tmp_path / "themes", "mine.toml", 'name = "paper-and-ink"\nprimary = "#af0000"\ndark = false\n')
    _write(tmp_path / "themes", "broken.toml", 'name = "broken"\nprimary = \n')
    _write(tmp_path / "themes", "typo.toml", 'name = "typo"\nprimry = "#000000"\n')
    _write(tmp_path / "user", "badcolour.toml", 'name = "bad"\nprimary = "not-a-colour"\n')
    load = load_themes(registry, user_dir=tmp_path / "user")
    themes = {theme.name: theme for theme in load.themes}
    assert themes["paper-and-ink"].primary == "#af0000"
    assert "ink-wash" in themes
    assert sorted(Path(error.split(":")[0]).name for error in load.errors) == ["badcolour.toml", "broken.toml", "typo.toml"]
    message = load.error_message()
    assert message is not None and message.startswith("3 theme files skipped:")
    assert "typo.toml" in message and "unknown key 'primry'" in message and "fix:" in message
    assert "'primary' is not a colour" in message


def test_missing_name_and_wrong_types_name_the_fix(tmp_path: Path) -> None:
    nameless = _write(tmp_path, "nameless.toml", 'primary = "#000000"\n')
    load = load_themes(None, user_dir=tmp_path)
    [error] = load.errors
    assert error == f"{nameless}: missing 'name'\n  fix: add a line such as name = \"nameless\""
    _write(tmp_path, "nameless.toml", 'name = "x"\nprimary = "#000000"\ndark = "yes"\n')
    [error] = load_themes(None, user_dir=tmp_path).errors
    assert "'dark' must be true or false" in error


class ThemeHost(App[None]):
    """A bare app to apply themes to."""


async def test_apply_themes_falls_back_to_the_house_style_and_notifies(tmp_path: Path) -> None:
    _write(tmp_path, "broken.toml", "name = \n")
    load = load_themes(None, user_dir=tmp_path)
    app = ThemeHost()
    async with app.run_test(size=(80, 24)) as pilot:
        chosen = apply_themes(app, load, "no-such-theme")
        await pilot.pause()
        assert chosen == DEFAULT_THEME and app.theme == DEFAULT_THEME
        messages = [notification.message for notification in app._notifications]
        assert any("broken.toml" in message for message in messages)
        assert any("'no-such-theme' not found" in message for message in messages)
        assert apply_themes(app, load, "ink-wash") == "ink-wash"
        assert app.current_theme.dark is True


async def test_apply_themes_without_any_theme_files_uses_textual_light(tmp_path: Path) -> None:
    app = ThemeHost()
    async with app.run_test(size=(80, 24)):
        assert apply_themes(app, ThemeLoad(themes=(), errors=()), "paper-and-ink") == "textual-light"


async def test_the_app_applies_the_registry_theme_and_reports_bad_files_next_to_it(demo_registry, app_factory) -> None:
    _write(demo_registry.parent / "themes", "broken.toml", "name = \n")
    _write(demo_registry.parent / "themes", "night.toml", 'name = "night"\nprimary = "#5fafd7"\nbackground = "#000000"\n')
    demo_registry.write_text(demo_registry.read_text().replace('theme = "paper-and-ink"', 'theme = "night"'))
    app = app_factory(demo_registry)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "night"
        assert "ink-wash" in app.available_themes
        assert any("broken.toml" in notice.message for notice in app.notices.items)
