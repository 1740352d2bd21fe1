"""Faces in the dashboard, on real photos: the analysis runs after the scan, the side panel
sums it up, the dataset screen names someone else and frames the face on the preview."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Static

from qbtui.tui.screens.dataset import DatasetScreen
from qbtui.tui.widgets.dataset_list import DatasetImageList
from qbtui.tui.widgets.preview import ImagePreview
from tests.tui.conftest import build_workspace
from tests.tui.waiting import wait_until, workers_idle

pytestmark = pytest.mark.faces

PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face2.jpg", "biden.jpg")


@pytest.fixture
def faces_registry(tmp_path: Path, face_photos: Path) -> Path:
    registry = build_workspace(tmp_path / "ws", [("barack", "Barack", 0, 0)])
    folder = registry.parent / "datasets" / "barack" / "30_barack"
    for name in PHOTOS:
        shutil.copy2(face_photos / name, folder / name)
        (folder / name).with_suffix(".txt").write_text("qb_barack person\n", encoding="utf-8")
    return registry


async def test_the_faces_are_checked_after_the_scan_and_shown(faces_registry, app_factory):
    app = app_factory(faces_registry)
    async with app.run_test(size=(80, 24)) as pilot:

        def analysed() -> bool:
            status = app.workspace.status("barack")
            return status is not None and status.faces is not None and status.faces.complete

        await wait_until(pilot, analysed, timeout=240)
        await workers_idle(pilot)
        details = str(app.screen.query_one("#friend-details", Static).content)
        assert "Faces: 5 of 5 photos · front" in details
        assert "biden.jpg: probably someone else" in details
        app.action_open_dataset("barack")
        await workers_idle(pilot)
        screen = app.screen
        assert isinstance(screen, DatasetScreen)
        image_list = screen.query_one(DatasetImageList)
        while image_list.selected is None or image_list.selected.path.name != "biden.jpg":
            await pilot.press("j")
        await workers_idle(pilot)
        problems = str(screen.query_one("#dataset-problems", Static).content)
        assert "someone else" in problems and "face: front" in problems
        preview = screen.query_one(ImagePreview)
        left, top, right, bottom = preview.face
        assert 0 < left < right < 1 and 0 < top < bottom < 1
        assert preview.shown == image_list.selected.path
