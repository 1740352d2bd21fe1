"""Where prep crops a photo: a square framed as head and shoulders around the friend's face.

Pure arithmetic on boxes (left, top, right, bottom) in the photo's oriented pixels.
"""

from __future__ import annotations

TARGET = 512
# Head and shoulders: the detected face (brows to chin) is about a third of the square's side,
# its centre a little above the square's middle so the shoulders fit below.
FACE_SHARE = 1 / 3
FACE_CENTRE_FROM_TOP = 0.42

Box = tuple[int, int, int, int]


def face_square(face: Box, size: tuple[int, int], target: int = TARGET) -> Box:
    """The crop square for `face` in a photo of `size`, inside the photo (no bars).

    The side is three face heights, widened to `target` pixels of the photo rather than
    upscaled later, and at most the photo's short side; the square is centred on the face
    as far as the photo's edges allow.
    """
    width, height = size
    face_side = max(face[2] - face[0], face[3] - face[1], 1)
    side = max(round(face_side / FACE_SHARE), target)
    side = min(side, width, height)
    centre_x = (face[0] + face[2]) / 2
    centre_y = (face[1] + face[3]) / 2
    left = _clamp(round(centre_x - side / 2), 0, width - side)
    top = _clamp(round(centre_y - side * FACE_CENTRE_FROM_TOP), 0, height - side)
    return (left, top, left + side, top + side)


def face_in_frame(face: Box, frame: Box, target: int = TARGET) -> float:
    """How many pixels tall the face is once `frame` is scaled to `target` pixels on its long side."""
    frame_side = max(frame[2] - frame[0], frame[3] - frame[1], 1)
    return max(face[2] - face[0], face[3] - face[1]) * target / frame_side


def letterbox_frame(size: tuple[int, int]) -> Box:
    """The frame of the letterbox preparation: the whole photo."""
    return (0, 0, size[0], size[1])


def upscaled(frame: Box, target: int = TARGET) -> bool:
    """True when the frame is smaller than the target and would be enlarged."""
    return max(frame[2] - frame[0], frame[3] - frame[1]) < target


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))
