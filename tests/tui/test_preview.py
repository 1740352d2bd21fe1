"""Image preview: protocol choice, half-block rendering, decoding in a worker."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static

from qbtui.errors import QbtuiError
from qbtui.tui.widgets import preview
from qbtui.tui.widgets.preview import (
    UPPER_HALF_BLOCK,
    HalfBlocks,
    ImagePreview,
    load_preview_image,
    prepare_image_protocol,
    take_image_protocol_notice,
)
from tests.tui.waiting import workers_idle

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
    monkeypatch.setattr(preview, "_pending_notice", None)


def test_without_a_terminal_nothing_is_queried_and_only_forced_settings_explain() -> None:
    assert prepare_image_protocol("halfcell") == "halfcell"
    assert prepare_image_protocol("auto") == "halfcell"  # pytest captures stdout: not a terminal
    assert take_image_protocol_notice() is None
    assert prepare_image_protocol("sixel") == "halfcell"
    assert preview.active_image_protocol() == "halfcell"
    assert "not a terminal" in (take_image_protocol_notice() or "")
    assert take_image_protocol_notice() is None
    with pytest.raises(QbtuiError) as raised:
        prepare_image_protocol("ascii")
    assert "auto, halfcell, sixel, kitty" in (raised.value.fix or "")


CHOOSE_PROTOCOL = """
import json, sys
from qbtui.tui.widgets import preview
chosen = {"protocol": preview.prepare_image_protocol(sys.argv[1]), "notice": preview.take_image_protocol_notice()}
with open(sys.argv[2], "w") as result:
    json.dump(chosen, result)
"""
DEVICE_ATTRIBUTES_QUERY = b"\x1b[c"
CELL_SIZE_QUERY = b"\x1b[16t"
SIXEL_REPLY = {DEVICE_ATTRIBUTES_QUERY: b"\x1b[?62;4;22c"}
SIXEL_TERMINAL = {**SIXEL_REPLY, CELL_SIZE_QUERY: b"\x1b[6;20;10t"}


@dataclass
class Choice:
    """What a child process chose, and what it wrote to its terminal and to stderr."""

    protocol: str | None
    notice: str | None
    screen: bytes
    stderr: str


def _play_terminal(master: int, child: subprocess.Popen[bytes], answers: dict[bytes, bytes], screen: bytearray) -> None:
    """Collect what the child writes to the pty in `screen`, replying to each query in `answers`."""
    unanswered = b""
    while True:
        if not select.select([master], [], [], 0.05)[0]:
            if child.poll() is not None:
                return
            continue
        try:
            written = os.read(master, 4096)
        except OSError:
            return
        screen += written
        unanswered += written
        for query, reply in answers.items():
            if query in unanswered:
                unanswered = unanswered.split(query, 1)[1]
                os.write(master, reply)


def _choose_in_pty(
    tmp_path: Path,
    setting: str = "auto",
    *,
    size: tuple[int, int] = (24, 80),
    answers: dict[bytes, bytes] | None = None,
    env: dict[str, str] | None = None,
    stdin_is_terminal: bool = True,
) -> Choice:
    """Run `prepare_image_protocol(setting)` in a child whose stdout (and stdin) is a pty of `size` rows x columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    child_env = {key: value for key, value in os.environ.items() if key != "TMUX"}
    child_env.update({"TERM": "xterm-256color", **(env or {})})
    result = tmp_path / "chosen.json"
    command = [sys.executable, "-c", CHOOSE_PROTOCOL, setting, str(result)]
    stdin = slave if stdin_is_terminal else subprocess.DEVNULL
    screen = bytearray()
    with subprocess.Popen(command, stdin=stdin, stdout=slave, stderr=subprocess.PIPE, env=child_env) as child:
        os.close(slave)
        terminal = threading.Thread(target=_play_terminal, args=(master, child, answers or {}, screen))
        terminal.start()
        _, stderr = child.communicate(timeout=60)
        terminal.join()
    os.close(master)
    chosen = json.loads(result.read_text()) if result.exists() else {"protocol": None, "notice": None}
    return Choice(chosen["protocol"], chosen["notice"], bytes(screen), stderr.decode())


def _fake_tmux(tmp_path: Path, passthrough: str) -> dict[str, str]:
    """Environment of a tmux pane whose `tmux` answers `passthrough` and records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tmux = bin_dir / "tmux"
    tmux.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path / "tmux-args"}"\necho {passthrough}\n')
    tmux.chmod(0o755)
    return {"TMUX": "/tmp/tmux-0/default,1,0", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_a_terminal_speaking_sixel_gets_sixel(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path, answers=SIXEL_TERMINAL)
    assert (choice.protocol, choice.notice, choice.stderr) == ("sixel", None, "")
    assert CELL_SIZE_QUERY in choice.screen


def test_a_pty_reporting_no_size_starts_with_half_blocks_without_querying(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path, size=(0, 0), answers=SIXEL_TERMINAL)
    assert (choice.protocol, choice.notice, choice.stderr) == ("halfcell", None, "")
    assert DEVICE_ATTRIBUTES_QUERY not in choice.screen
    forced = _choose_in_pty(tmp_path, "sixel", size=(0, 0), answers=SIXEL_TERMINAL)
    assert (forced.protocol, forced.stderr) == ("halfcell", "")
    assert "reports no size" in (forced.notice or "")


def test_a_terminal_that_ignores_queries_falls_back_silently(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path)
    assert DEVICE_ATTRIBUTES_QUERY in choice.screen and CELL_SIZE_QUERY in choice.screen
    assert (choice.protocol, choice.notice, choice.stderr) == ("halfcell", None, "")


def test_sixel_without_a_cell_size_reply_falls_back_with_a_notice(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path, answers=SIXEL_REPLY)
    assert (choice.protocol, choice.stderr) == ("halfcell", "")
    assert 'did not report its cell size; set image_protocol = "sixel"' in (choice.notice or "")


def test_forced_sixel_does_not_need_replies(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path, "sixel")
    assert (choice.protocol, choice.notice, choice.stderr) == ("sixel", None, "")


def test_an_unreadable_reply_falls_back_with_a_notice(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path, answers={**SIXEL_REPLY, CELL_SIZE_QUERY: b"\x1b[6;20t"})
    assert (choice.protocol, choice.stderr) == ("halfcell", "")
    assert "unreadable" in (choice.notice or "")


@pytest.mark.parametrize("terminal", [{"stdin_is_terminal": False}, {"env": {"TERM": "dumb"}}], ids=["stdin-not-a-tty", "dumb"])
def test_no_query_without_a_tty_stdin_or_with_a_dumb_term(tmp_path: Path, terminal: dict[str, Any]) -> None:
    choice = _choose_in_pty(tmp_path, answers=SIXEL_TERMINAL, **terminal)
    assert (choice.protocol, choice.notice, choice.stderr, choice.screen) == ("halfcell", None, "", b"")


def test_tmux_without_passthrough_gets_half_blocks_and_the_fix(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path, answers=SIXEL_TERMINAL, env=_fake_tmux(tmp_path, "off"))
    assert (choice.protocol, choice.notice, choice.stderr, choice.screen) == ("halfcell", preview.TMUX_NOTICE, "", b"")
    assert (tmp_path / "tmux-args").read_text().split() == ["show-options", "-gv", "allow-passthrough"]


def test_tmux_with_passthrough_queries_the_terminal(tmp_path: Path) -> None:
    choice = _choose_in_pty(tmp_path, answers=SIXEL_TERMINAL, env=_fake_tmux(tmp_path, "on"))
    assert (choice.protocol, choice.notice, choice.stderr) == ("sixel", None, "")


def test_half_blocks_keep_aspect_and_put_upper_pixels_in_the_foreground(tmp_path: Path) -> None:
    art = HalfBlocks.fit(Image.open(_two_tone(tmp_path / "a.png")).convert("RGB"), 20, 20)
    assert (art.cell_width, art.pixels.height) == (20, 10)
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
        self.notices: list[str] = []

    def compose(self) -> ComposeResult:
        yield ImagePreview(protocol=self.protocol, id="preview")

    def notify(self, message: str, **options: Any) -> None:
        self.notices.append(message)
        super().notify(message, **options)


async def test_the_first_preview_shows_why_graphics_fell_back_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preview, "_pending_notice", preview.TMUX_NOTICE)
    app = PreviewHost()
    async with app.run_test(size=(40, 12)) as pilot:
        await app.query_one(ImagePreview).remove()
        await app.mount(ImagePreview(id="again"))
        await pilot.pause()
        assert app.notices == [preview.TMUX_NOTICE]


async def test_preview_renders_half_blocks_from_a_worker(tmp_path: Path) -> None:
    app = PreviewHost()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(ImagePreview)
        widget.path = _two_tone(tmp_path / "a.png", (60, 60))
        await workers_idle(pilot)
        await pilot.pause()
        assert widget.shown == widget.path
        rendered = "".join(app.query_one("#preview-art", Static).render_line(0).text)
        assert UPPER_HALF_BLOCK * 10 in rendered
        widget.path = tmp_path / "missing.jpg"
        await workers_idle(pilot)
        await pilot.pause()
        assert widget.shown is None
        assert "cannot preview missing.jpg" in str(app.query_one("#preview-art", Static).content)


async def test_preview_rescales_when_resized(tmp_path: Path) -> None:
    app = PreviewHost()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(ImagePreview)
        widget.path = _two_tone(tmp_path / "a.png", (60, 60))
        await workers_idle(pilot)
        await pilot.pause()
        assert app.query_one("#preview-art", Static).size.height == 12
        await pilot.resize_terminal(40, 8)
        await pilot.pause()
        await workers_idle(pilot)
        await pilot.pause()
        assert app.query_one("#preview-art", Static).size.height == 8


async def test_forced_sixel_hands_the_thumbnail_to_textual_image(tmp_path: Path) -> None:
    from textual_image.widget import SixelImage

    app = PreviewHost(protocol="sixel")
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(ImagePreview)
        widget.path = _two_tone(tmp_path / "a.png", (60, 60))
        await workers_idle(pilot)
        await pilot.pause()
        graphic = app.query_one("#preview-graphic", SixelImage)
        assert graphic.display and graphic.image is not None and graphic.image.size == (60, 60)
        assert not app.query_one("#preview-art", Static).display
