"""Where qbtui keeps things outside the registry: config folder, cache, themes, starter registry.

`$QBTUI_CONFIG_DIR` overrides the platform's user config folder and `$QBTUI_CACHE_DIR` its
cache folder (tests and portable set-ups use them). Nothing here imports anything heavier than platformdirs.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "qbtui"
REGISTRY_FILENAME = "registry.toml"
REGISTRY_ENV = "QBTUI_REGISTRY"
CONFIG_DIR_ENV = "QBTUI_CONFIG_DIR"
CACHE_DIR_ENV = "QBTUI_CACHE_DIR"
# `qbtui demo` builds here unless given a folder (relative to the working directory)
DEMO_DIR = Path(".demo")

PACKAGE_DIR = Path(__file__).resolve().parent
STARTER_REGISTRY = PACKAGE_DIR / "starter_registry.toml"


def config_dir() -> Path:
    """The user config folder: `$QBTUI_CONFIG_DIR`, else the platform's (`~/.config/qbtui`)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_config_path(APP_NAME)


def cache_dir() -> Path:
    """Where qbtui keeps results it can recompute: `$QBTUI_CACHE_DIR`, else the platform's (`~/.cache/qbtui`)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_cache_path(APP_NAME)


def user_registry_path() -> Path:
    """The registry used when neither --registry, $QBTUI_REGISTRY nor ./registry.toml exist."""
    return config_dir() / REGISTRY_FILENAME


def user_themes_dir() -> Path:
    """Where a user drops their own theme files."""
    return config_dir() / "themes"


def user_cache_dir() -> Path:
    """Where qbtui keeps what it can recompute: `$QBTUI_CACHE_DIR`, else `cache/` in an
    overridden config folder, else the platform's user cache folder (`~/.cache/qbtui`)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if os.environ.get(CONFIG_DIR_ENV):
        return config_dir() / "cache"
    import platformdirs

    return platformdirs.user_cache_path(APP_NAME)
