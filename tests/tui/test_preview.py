"""Image preview: protocol choice, half-block rendering, decoding in a worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static

from qbtui.errors import QbtuiError
from qbtui.tui.widgets import preview
from qbtui.tui.widgets.preview import UPPER_HALF_BLOCK, HalfBlocks, ImagePreview, load_preview_image, prepare_image_protocol

RED = (200, 0, 0)
BLUE = (0, 0, 200)


def _two_tone(path: Path, size: tuple[int, int] = (100, 50)) -> Path:
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0], size[1] // 2))
    image.save(path)
    return path


@pytest.fixture(autouse=True)
def _restore_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preview, "_active_protocol", "halfcell")


def test_prepare_image_protocol_resolves_and_forces() -> None:
    assert prepare_image_protocol("halfcell") == "halfcell"
    assert prepare_image_protocol("auto") == "halfcell"  # no terminal under pytest: no graphics
    assert prepare_image_protocol("sixel") == "sixel"
    assert preview.active_image_protocol() == "sixel"
    assert prepare_image_protocol("kitty") == "kitty"
    with pytest.raises(QbtuiError) as raised:
        prepare_image_protocol("ascii")
    assert "auto, halfcell, sixel, kitty" in (raised.value.fix or "")


def test_half_blocks_keep_aspect_and_put_upper_pixels_in_the_foreground(tmp_path: Path) -> None:
    art = HalfBlocks.fit(Image.open(_two_tone(tmp_path / "a.png")).convert("RGB"), 20, 20)
    assert (art.cell_width, art.cell_height) == (20, 5)
    console = Console(width=40, color_system="truecolor")
    lines = list(console.render_lines(art, pad=False))
    assert len(lines) == 5
    first, last = lines[0][0], lines[-1][0]
    assert first.text == UPPER_HALF_BLOCK
    assert first.style.color.triplet == RED and first.style.bgcolor.triplet == RED
    assert last.style.color.triplet == BLUE and last.style.bgcolor.triplet == BLUE


def test_load_preview_image_flattens_transparency_and_applies_exif_rotation(tmp_path: Path) -> None:
    clear = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    clear.save(tmp_path / "clear.png")
    flattened = load_preview_image(tmp_path / "clear.png")
    assert flattened.mode == "RGB" and flattened.getpixel((0, 0)) == (255, 255, 255)
    rotated = Image.new("RGB", (40, 20))
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise
    rotated.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_preview_image(tmp_path / "rotated.jpg").size == (20, 40)
    big = Image.new("RGB", (2000, 1000))
    big.save(tmp_path / "big.jpg")
    assert load_preview_image(tmp_path / "big.jpg", max_side=100).size == (100, 50)


def test_phone_heic_photos_preview(tmp_path: Path) -> None:
    from pillow_heif import from_pillow

    from_pillow(Image.new("RGB", (64, 32), (10, 200, 30))).save(tmp_path / "phone.heic")
    assert load_preview_image(tmp_path / "phone.heic").size == (64, 32)


def test_unreadable_image_raises_with_the_file_and_fix(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(QbtuiError) as raised:
        load_preview_image(broken)
    assert raised.value.path == broken and "originals/" in (raised.value.fix or "")


class PreviewHost(App[None]):
    def __init__(self, protocol: str | None = None) -> None:
        super().__init__()
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        yield ImagePreview(protocol=self.protocol, id="preview")


async def test_preview_renders_half_blocks_from_a_worker(tmp_path: Path) -> None:
    app = PreviewHost()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(ImagePreview)
        widget.path = _two_tone(tmp_path / "a.png", (60, 60))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert widget.shown == widget.path
        rendered = "".join(app.query_one("#preview-art", Static).render_line(0).text)
        assert UPPER_HALF_BLOCK * 10 in rendered
        widget.path = tmp_path / "missing.jpg"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert widget.shown is None
        assert "cannot preview missing.jpg" in str(app.query_one("#preview-art", Static).content)


async def test_preview_rescales_when_resized(tmp_path: Path) -> None:
    app = PreviewHost()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(ImagePreview)
        widget.path = _two_tone(tmp_path / "a.png", (60, 60))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one("#preview-art", Static).size.height == 12
        await pilot.resize_terminal(40, 8)
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one("#preview-art", Static).size.height == 8


async def test_forced_sixel_hands_the_thumbnail_to_textual_image(tmp_path: Path) -> None:
    from textual_image.widget import SixelImage

    app = PreviewHost(protocol="sixel")
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(ImagePreview)
        widget.path = _two_tone(tmp_path / "a.png", (60, 60))
        await app.workers.wait_for_complete()
        await pilot.pause()
        graphic = app.query_one("#preview-graphic", SixelImage)
        assert graphic.display and graphic.image is not None and graphic.image.size == (60, 60)
        assert not app.query_one("#preview-art", Static).display
