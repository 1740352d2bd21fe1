"""The refusal of a friend whose id or token makes a file name longer than the file system allows."""

from __future__ import annotations

from pathlib import Path

from qbtui.pathlimits import NameTooLong
from qbtui.registry.model import RegistryError

NOTHING_WRITTEN = "; nothing was written"


class NameTooLongError(RegistryError):
    """A refused id or token: `source` says which one to shorten (`id` or `token`), `token_typed`
    whether the token was given (else it was made from the name, and a shorter name shortens it)."""

    def __init__(self, refusal: NameTooLong, path: Path, *, token_typed: bool):
        self.source = refusal.derived.source
        self.token_typed = token_typed
        super().__init__(refusal.message(), path=path, fix=self.cli_fix())

    def cli_fix(self) -> str:
        """The fix in `qbtui add`'s words."""
        if self.source == "id":
            return "use a shorter name (the id made from it names the dataset and run folders)" + NOTHING_WRITTEN
        if self.token_typed:
            return "pass a shorter --token" + NOTHING_WRITTEN
        return "use a shorter name, or pass a shorter --token (the token is made from the name)" + NOTHING_WRITTEN
