"""The latest samples of a friend's runs as thumbnails (ImagePreview tiles, each with its step and
weight), as many as the strip's room holds; one line of text where not even one fits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Container, Vertical
from textual.widget import Widget
from textual.widgets import Label

from qbtui.printable import printable
from qbtui.tui.widgets.preview import ImagePreview
from qbtui.workspace.samples import RunSample

# A tile's picture is square: `width` cells across, width / 2 rows down (half-blocks), a caption under it.
TILE_WIDEST = 24
TILE_NARROWEST = 14
TILE_GAP = 1
MAX_TILES = 6
TITLE = "Latest samples"


@dataclass(frozen=True)
class TilePlan:
    """How many thumbnails show, in how many columns, each how wide (0 tiles: the one-line label)."""

    tiles: int
    columns: int = 1
    width: int = 0

    @property
    def height(self) -> int:
        return tile_height(self.width)


def tile_height(width: int) -> int:
    """A tile's rows: its square picture (two pixels a row) and one caption line."""
    return (width + 1) // 2 + 1


def plan_tiles(width: int, height: int, samples: int) -> TilePlan:
    """The largest tiles that show every sample (up to MAX_TILES) in `width` x `height` cells (a title line
    above them), else as many as the narrowest tiles hold; none when not even one of those fits."""
    wanted = min(samples, MAX_TILES)
    best = TilePlan(0)
    for tile in range(TILE_WIDEST, TILE_NARROWEST - 1, -2):
        columns = (width + TILE_GAP) // (tile + TILE_GAP)
        rows = (height - 1) // tile_height(tile)
        fits = min(wanted, columns * rows)
        if fits > best.tiles:
            best = TilePlan(fits, min(columns, fits), tile)
        if fits == wanted:
            break
    return best


def one_line(samples: Sequence[RunSample]) -> str:
    """`Latest sample: step 30 · weight 0.8 · seed 42 (+3)`: the strip where no thumbnail fits."""
    more = f" (+{len(samples) - 1})" if len(samples) > 1 else ""
    return f"Latest sample: {samples[0].caption}{more}"


def tile_caption(sample: RunSample) -> str:
    """`step 30 w0.8`: what fits under the narrowest thumbnail (the seed is on the Training screen)."""
    parts = [f"step {sample.step}" if sample.step is not None else "", f"w{sample.weight:g}" if sample.weight is not None else ""]
    return " ".join(part for part in parts if part) or printable(Path(sample.path).stem)


class SampleTile(Vertical):
    """One thumbnail `width` cells wide and its caption."""

    DEFAULT_CSS = """
    SampleTile { height: auto; }
    SampleTile > Label { width: 1fr; height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, sample: RunSample, width: int) -> None:
        super().__init__()
        self.sample = sample
        self.styles.width = width
        self.picture_rows = tile_height(width) - 1

    def compose(self) -> ComposeResult:
        preview = ImagePreview()
        preview.styles.height = self.picture_rows
        yield preview
        yield Label(printable(tile_caption(self.sample)))

    def on_mount(self) -> None:
        # Decoded once the preview has its size, so the first drawing already fits.
        self.call_after_refresh(setattr, self.query_one(ImagePreview), "path", Path(self.sample.path))


class SampleStrip(Widget):
    """Thumbnails of the newest samples first, sized to the room; the one-line label where none fits."""

    DEFAULT_CSS = """
    SampleStrip { height: 1fr; }
    SampleStrip > #strip-title { height: 1; text-style: bold; text-wrap: nowrap; text-overflow: ellipsis; }
    SampleStrip > #strip-tiles { layout: grid; height: auto; grid-gutter: 0 1; grid-rows: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.samples: list[RunSample] = []
        self.plan = TilePlan(0)
        self._laid_out: tuple[TilePlan, tuple[RunSample, ...]] | None = None

    def compose(self) -> ComposeResult:
        yield Label(TITLE, id="strip-title")
        yield Container(id="strip-tiles")

    def show(self, samples: Sequence[RunSample]) -> None:
        """Show `samples` (newest first); a shown picture whose file changed is read again."""
        if list(samples) != self.samples:
            self.samples = list(samples)
            self._lay_out()
            return
        for preview in self.query(ImagePreview):
            preview.reload_if_changed()

    def on_resize(self) -> None:
        self._lay_out()

    @property
    def shown(self) -> list[RunSample]:
        """The samples the thumbnails show now, in order."""
        return [tile.sample for tile in self.query(SampleTile)]

    def _lay_out(self) -> None:
        if not self.is_mounted:
            return
        plan = plan_tiles(self.content_size.width, self.content_size.height, len(self.samples))
        self.plan = plan
        title = self.query_one("#strip-title", Label)
        if plan.tiles == 0:
            title.update(printable(one_line(self.samples)) if self.samples else f"{TITLE}: none yet")
        else:
            title.update(f"{TITLE} ({plan.tiles} of {len(self.samples)})")
        laid_out = (plan, tuple(self.samples[: plan.tiles]))
        if laid_out == self._laid_out:
            return
        self._laid_out = laid_out
        tiles = self.query_one("#strip-tiles", Container)
        tiles.styles.grid_size_columns = max(1, plan.columns)
        tiles.styles.grid_columns = str(max(1, plan.width))
        tiles.remove_children()
        tiles.mount_all([SampleTile(sample, plan.width) for sample in self.samples[: plan.tiles]])
