"""Prep's face hook: the crop square of each photo to prepare, from the face checks.

A photo of one face is framed on it whatever the other photos show, so prep analyses
without the descriptors (the slowest step after detection); only a photo to prepare that
shows several faces needs them, for every photo, to tell the friend's face by likeness.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qbtui.dataset.face_checks import FACE_MODE, crop_frame, scan_faces
from qbtui.dataset.scan import FriendStatus


def with_face_frames(actions: list[Any], status: FriendStatus, mode: str, workers: int) -> list[Any]:
    """The actions with `frame` set where a face was found (face mode); the others letterbox."""
    if mode != FACE_MODE or not actions:
        return actions
    checked = scan_faces(status, prep_mode=mode, workers=workers, describe=False)
    sources = {action.source for action in actions}
    if any(image.path in sources and image.faces is not None and len(image.faces.faces) > 1 for image in checked.images):
        checked = scan_faces(status, prep_mode=mode, workers=workers)
    images = {image.path: image for image in checked.images}
    framed = []
    for action in actions:
        image = images.get(action.source)
        frame = crop_frame(image, mode) if image is not None else None
        framed.append(replace(action, frame=frame, framing="face" if frame is not None else "letterbox (no face found)"))
    return framed
