"""What a face region says about the photo: head pose, sharpness, brightness."""

from __future__ import annotations

import math

from PIL import Image, ImageStat

FRONT = "front"
THREE_QUARTER = "three-quarter"
PROFILE = "profile"
POSES = (FRONT, THREE_QUARTER, PROFILE)
# How far the base of the nose sits from the midpoint of the eyes, along the eye line,
# in half eye distances: about 0 facing the camera, growing as the head turns.
FRONT_TURN = 0.25
PROFILE_TURN = 0.7
SHARPNESS_SIDE = 128
CONTRAST = 40.0


def head_turn(landmarks: tuple[tuple[float, float], ...]) -> float:
    """The nose's offset from the eyes' midpoint in half eye distances (0 = facing the camera)."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy), (nx, ny) = landmarks[:5]
    first = ((ax + bx) / 2, (ay + by) / 2)
    second = ((cx + dx) / 2, (cy + dy) / 2)
    axis = (second[0] - first[0], second[1] - first[1])
    half = math.hypot(*axis) / 2
    if half == 0:
        return math.inf
    middle = ((first[0] + second[0]) / 2, (first[1] + second[1]) / 2)
    along = ((nx - middle[0]) * axis[0] + (ny - middle[1]) * axis[1]) / (2 * half)
    return abs(along) / half


def pose_of(landmarks: tuple[tuple[float, float], ...]) -> str:
    """front, three-quarter or profile, from how far the head is turned."""
    turn = head_turn(landmarks)
    if turn < FRONT_TURN:
        return FRONT
    if turn < PROFILE_TURN:
        return THREE_QUARTER
    return PROFILE


def sharpness_of(region: Image.Image) -> float:
    """Variance of the Laplacian of the face at SHARPNESS_SIDE px, contrast-normalised (higher = sharper).

    The region is scaled to a standard deviation of CONTRAST grey levels first, so a
    dark or flat photo is not mistaken for a blurred one.
    """
    import numpy

    side = SHARPNESS_SIDE
    grey = region.convert("L").resize((side, side), Image.Resampling.BILINEAR)
    pixels = numpy.asarray(grey, dtype=numpy.float32)
    spread = float(pixels.std())
    if spread < 1:
        return 0.0
    pixels = pixels * (CONTRAST / spread)
    laplacian = pixels[1:-1, :-2] + pixels[1:-1, 2:] + pixels[:-2, 1:-1] + pixels[2:, 1:-1] - 4 * pixels[1:-1, 1:-1]
    return round(float(laplacian.var()), 1)


def brightness_of(region: Image.Image) -> float:
    """Mean luminance of the region, 0 (black) to 255 (white)."""
    return round(ImageStat.Stat(region.convert("L")).mean[0], 1)
