"""Synthetic friend portraits, shaded with numpy so that dlib's face detector finds them.

dlib's detector reads edge orientations (HOG), so each face is a lit ellipsoid with the
shadows a real face casts: dark eye sockets and brows, the sides and base of the nose, a
mouth line, the chin; framed by hair, ears and a neck, in the proportions of a photographed
face (eyes a little above the middle of the head, about one eye width apart). The fine
grain of a camera sensor is added last so the face measures as sharp.

A `Look` is what stays the same in every picture of one friend (colours and the geometry
dlib's face descriptor keeps apart); each picture varies size, place, head turn, light,
background and clothing, so no two look like the same shot to the near-duplicate check.
Everything is drawn from the seed: the same seed gives the same picture.
"""

from __future__ import annotations

import colorsys
import math
import random
from dataclasses import dataclass

import numpy
from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, int, int]
# Head turns (radians) of the pictures that look aside; the others face the camera.
SIDE_TURN = (0.22, 0.3)
# Every third picture looks aside: enough three-quarter faces for the guide's pose mix.
SIDE_EVERY = 3
GRAIN = 5.0
NOSE_SHIFT = 1.6
MOUTH_SHIFT = 1.3


@dataclass(frozen=True)
class Look:
    """What stays the same in every picture of one friend.

    Lengths are in face half-widths (`face_length` is the half-height); strengths are how
    much a shadow darkens the skin (0-1).
    """

    skin: Colour
    hair: Colour
    glasses: bool = False
    beard: bool = False
    long_hair: bool = False
    lips: Colour = (170, 90, 90)
    face_length: float = 1.4
    jaw_taper: float = 0.18
    eye_spacing: float = 0.38
    eye_height: float = 0.12
    eye_width: float = 0.11
    brow: float = 0.6
    brow_thickness: float = 0.035
    nose_width: float = 0.09
    nose_length: float = 0.28
    mouth_width: float = 0.28
    mouth_drop: float = 0.5


@dataclass(frozen=True)
class Pose:
    """Where one head sits in a picture: centre and half-width in pixels, turn in radians."""

    x: float
    y: float
    radius: float
    turn: float
    light: float  # the light's side, -0.5 (left) to 0.5 (right)


class _Canvas:
    """The window `box` of a picture as RGB floats, with its pixel grid, for drawing shaded shapes."""

    def __init__(self, image: Image.Image, box: tuple[int, int, int, int]) -> None:
        self.left, self.top, right, bottom = box
        self.view = numpy.array(image.crop(box), numpy.float32)
        self.y, self.x = numpy.mgrid[self.top : bottom, self.left : right].astype(numpy.float32)

    def blob(self, x: float, y: float, sx: float, sy: float, tilt: float = 0.0) -> numpy.ndarray:
        """A Gaussian bump (peak 1) centred at (x, y) with spreads sx, sy, tilted by `tilt`;
        computed within four spreads of its centre (the rest is 0), which keeps drawing fast."""
        bump = numpy.zeros(self.x.shape, numpy.float32)
        reach = 4 * max(sx, sy)
        rows = slice(max(0, int(y - reach) - self.top), max(0, int(y + reach) + 2 - self.top))
        columns = slice(max(0, int(x - reach) - self.left), max(0, int(x + reach) + 2 - self.left))
        dx, dy = self.x[rows, columns] - x, self.y[rows, columns] - y
        if tilt:
            dx, dy = math.cos(tilt) * dx + math.sin(tilt) * dy, -math.sin(tilt) * dx + math.cos(tilt) * dy
        bump[rows, columns] = numpy.exp(-0.5 * ((dx / sx) ** 2 + (dy / sy) ** 2))
        return bump

    def oval(self, x: float, y: float, rx: float, ry: float) -> numpy.ndarray:
        return ((self.x - x) / rx) ** 2 + ((self.y - y) / ry) ** 2 < 1

    def paint(self, mask: numpy.ndarray, colour: Colour | numpy.ndarray, amount: float = 1.0) -> None:
        weight = numpy.clip(mask, 0, 1) * amount
        rows, columns = numpy.nonzero(weight > 0.002)
        share = weight[rows, columns][:, None]
        tint = numpy.asarray(colour, numpy.float32)
        self.view[rows, columns] = self.view[rows, columns] * (1 - share) + tint * share


def _background_colour(rng: random.Random, index: int) -> Colour:
    hue = (index * 0.381966 + rng.random() * 0.1) % 1.0
    lightness = 0.35 + 0.4 * ((index * 7) % 5) / 4
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.3 + 0.4 * rng.random())
    return int(red * 255), int(green * 255), int(blue * 255)


def _draw_background(image: Image.Image, rng: random.Random, colour: Colour) -> None:
    width, height = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height), fill=colour)
    accent = tuple(max(0, min(255, channel + rng.choice((-70, 70)))) for channel in colour)
    pattern = rng.choice(("stripes", "window", "sun", "floor"))
    if pattern == "stripes":
        step = rng.randint(40, 90)
        for x in range(rng.randint(0, step), width, step * 2):
            draw.rectangle((x, 0, x + step // 2, height), fill=accent)
    elif pattern == "window":
        left, top = rng.randint(0, width // 2), rng.randint(0, height // 3)
        draw.rectangle((left, top, left + width // 3, top + height // 3), fill=accent, outline=(40, 40, 40), width=6)
    elif pattern == "sun":
        x, y, radius = rng.randint(0, width), rng.randint(0, height // 2), rng.randint(40, 110)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=accent)
    else:
        draw.rectangle((0, int(height * rng.uniform(0.55, 0.8)), width, height), fill=accent)


def _draw_body(image: Image.Image, rng: random.Random, look: Look, pose: Pose) -> None:
    """Shoulders, neck and the hair behind the head, as flat shapes (the face covers them)."""
    a, b = pose.radius, pose.radius * look.face_length
    x, y = pose.x, pose.y
    draw = ImageDraw.Draw(image)
    shirt = tuple(rng.randint(30, 200) for _ in range(3))
    draw.ellipse((x - 2.4 * a, y + 1.1 * b, x + 2.4 * a, y + 3.9 * b), fill=shirt)
    shade = tuple(int(channel * 0.6) for channel in look.skin)
    draw.rectangle((x - 0.55 * a, y + 0.4 * b, x + 0.55 * a, y + 1.35 * b), fill=shade)
    spread = 1.4 if look.long_hair else 1.2
    mask = Image.new("L", image.size)
    outline = ImageDraw.Draw(mask)
    outline.ellipse((x - spread * a, y - 1.25 * b, x + spread * a, y + 0.95 * b), fill=255)
    outline.rectangle((0, y + (1.2 if look.long_hair else 0.3) * b, image.width, image.height), fill=0)
    image.paste(look.hair, mask=mask)


def _head_box(size: tuple[int, int], look: Look, pose: Pose) -> tuple[int, int, int, int]:
    """The window of a picture of `size` that holds the face, ears and fringe of `pose`."""
    a, b = pose.radius, pose.radius * look.face_length
    left, top = max(0, int(pose.x - 1.3 * a)), max(0, int(pose.y - 1.3 * b))
    return left, top, min(size[0], int(pose.x + 1.3 * a) + 1), min(size[1], int(pose.y + 1.2 * b) + 1)


def _draw_face(image: Image.Image, look: Look, pose: Pose) -> None:
    """The lit face, its features and the fringe, softened a little as a lens would."""
    a, b = pose.radius, pose.radius * look.face_length
    cx, cy, turn = pose.x, pose.y, pose.turn
    box = _head_box(image.size, look, pose)
    canvas = _Canvas(image, box)
    across = (canvas.y - cy) / b
    u = (canvas.x - cx) / (a * (1 - look.jaw_taper * numpy.clip(across, 0, None)))
    spread = u**2 + across**2
    inside = spread < 1
    depth = numpy.sqrt(numpy.clip(1 - spread, 0, 1))
    light = numpy.array([pose.light, -0.4, 0.85])
    light /= numpy.linalg.norm(light)
    shade = 0.3 + 0.75 * numpy.clip(u * light[0] + across * light[1] + depth * light[2], 0, 1)

    def turned(offset: float) -> float:
        """Where a point `offset` half-widths from the middle of the face lands once the head turns."""
        return cx + a * math.sin(math.asin(max(-0.99, min(0.99, offset))) + turn)

    sin_turn = math.sin(turn)
    skin = numpy.asarray(look.skin, numpy.float32)
    for side in (-1, 1):
        ear_x = cx + side * 0.98 * a * math.cos(turn)
        visible = 1 - side * sin_turn * 2
        if visible > 0.2:
            canvas.paint(canvas.oval(ear_x, cy, 0.13 * a * min(1, visible), 0.2 * b), skin * 0.75)
    eye_y = cy - look.eye_height * b
    darkening = numpy.ones_like(canvas.x)
    eyes = []
    for side in (-1, 1):
        eye_x = turned(side * look.eye_spacing)
        squash = max(0.3, math.cos(math.asin(side * look.eye_spacing) + turn) / math.cos(math.asin(look.eye_spacing)))
        eyes.append((eye_x, squash))
        darkening -= 0.45 * canvas.blob(eye_x, eye_y, 0.2 * a * squash, 0.12 * b)
        darkening -= look.brow * canvas.blob(eye_x, eye_y - 0.18 * b, 0.22 * a * squash, look.brow_thickness * b, side * 0.12)
        darkening -= 0.2 * canvas.blob(turned(side * 0.55), cy + 0.25 * b, 0.15 * a, 0.25 * b)
    nose_x = cx + NOSE_SHIFT * a * sin_turn
    for side in (-1, 1):
        darkening -= 0.24 * canvas.blob(nose_x + side * 1.3 * look.nose_width * a, cy + 0.12 * b, 0.05 * a, 0.15 * b)
        darkening -= 0.3 * canvas.blob(nose_x + side * look.nose_width * a, cy + look.nose_length * b, 0.05 * a, 0.03 * b)
    darkening -= 0.3 * canvas.blob(nose_x, cy + (look.nose_length + 0.05) * b, 1.6 * look.nose_width * a, 0.03 * b)
    darkening += 0.15 * canvas.blob((cx + turned(0)) / 2 + 0.5 * a * sin_turn, cy + 0.05 * b, 0.06 * a, 0.2 * b)
    darkening -= 0.2 * canvas.blob(turned(0), cy + 0.72 * b, 0.3 * a, 0.05 * b)
    lit = skin * (shade * numpy.clip(darkening, 0.1, 1.3))[..., None]
    canvas.view[inside] = lit[inside]
    mouth_x, mouth_y = cx + MOUTH_SHIFT * a * sin_turn, cy + look.mouth_drop * b
    canvas.paint(canvas.blob(mouth_x, mouth_y + 0.02 * b, look.mouth_width * a, 0.045 * b) * inside, look.lips, 0.7)
    canvas.paint(canvas.blob(mouth_x, mouth_y, look.mouth_width * a, 0.014 * b) * inside, (60, 25, 25), 0.9)
    if look.beard:
        lips = canvas.blob(mouth_x, mouth_y, look.mouth_width * a * 0.9, 0.04 * b) > 0.5
        canvas.paint(inside & (across > 0.35) & ~lips, look.hair, 0.85)
    for eye_x, squash in eyes:
        pupil_x = eye_x + 0.02 * a * sin_turn
        canvas.paint(canvas.oval(eye_x, eye_y, look.eye_width * a * squash, 0.045 * b), (235, 232, 228), 0.9)
        canvas.paint(canvas.oval(pupil_x, eye_y, 0.045 * a * squash, 0.045 * b), (60, 50, 40))
        canvas.paint(canvas.oval(pupil_x, eye_y, 0.02 * a, 0.02 * b), (10, 10, 10))
        canvas.paint(canvas.blob(eye_x, eye_y - 0.04 * b, look.eye_width * a * squash * 1.05, 0.012 * b), (30, 20, 20), 0.8)
        if look.glasses:
            rim = numpy.sqrt(((canvas.x - eye_x) / (0.2 * a * squash)) ** 2 + ((canvas.y - eye_y) / (0.13 * b)) ** 2)
            canvas.paint(numpy.abs(rim - 1) < 0.06, (20, 20, 20))
    if look.glasses:
        (first, _), (second, _) = eyes
        bridge = (
            (canvas.x > first + 0.2 * a) & (canvas.x < second - 0.2 * a) & (numpy.abs(canvas.y - eye_y + 0.03 * b) < 0.012 * b)
        )
        canvas.paint(bridge, (20, 20, 20))
    hairline = cy - 0.8 * b + 0.15 * b * ((canvas.x - cx - 0.3 * a * sin_turn) / a) ** 2
    canvas.paint(canvas.oval(cx, cy - 0.2 * b, 1.08 * a, b) & (canvas.y < hairline), look.hair)
    drawn = Image.fromarray(numpy.clip(canvas.view, 0, 255).astype(numpy.uint8))
    image.paste(drawn.filter(ImageFilter.GaussianBlur(max(0.3, a * 0.012))), box[:2])


def shot_pose(seed: int, size: tuple[int, int], turn: float | None = None) -> Pose:
    """The framing `seed` picks for one head in a picture of `size`."""
    rng = random.Random(seed * 7919 + 1)
    width, height = size
    if turn is None:
        turn = rng.choice((-1, 1)) * rng.uniform(*SIDE_TURN) if seed % SIDE_EVERY == SIDE_EVERY - 1 else rng.uniform(-0.05, 0.05)
    return Pose(
        x=width / 2 + rng.uniform(-0.1, 0.1) * width,
        y=height * rng.uniform(0.40, 0.48),
        radius=min(width, height) * rng.uniform(0.15, 0.21),
        turn=turn,
        light=rng.uniform(-0.5, 0.5),
    )


def _finish(image: Image.Image, faces: list[tuple[Look, Pose]], seed: int) -> Image.Image:
    """The faces shaded onto `image`, then a camera sensor's grain over everything."""
    for look, pose in faces:
        _draw_face(image, look, pose)
    grain = numpy.random.default_rng(seed).standard_normal((image.height, image.width, 1), numpy.float32) * GRAIN
    grained = numpy.asarray(image, numpy.int16) + grain.round().astype(numpy.int16)
    return Image.fromarray(numpy.clip(grained, 0, 255).astype(numpy.uint8))


def draw_portrait(look: Look, seed: int, size: tuple[int, int] = (512, 512)) -> Image.Image:
    """One RGB portrait of the friend with `look`; `seed` picks pose, framing and scene."""
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    _draw_background(image, rng, _background_colour(rng, seed))
    pose = shot_pose(seed, size)
    _draw_body(image, rng, look, pose)
    return _finish(image, [(look, pose)], seed)


def draw_group(looks: tuple[Look, ...], seed: int, size: tuple[int, int] = (900, 512)) -> Image.Image:
    """Friends side by side, facing the camera, in one picture of `size`."""
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    _draw_background(image, rng, _background_colour(rng, seed))
    width, height = size
    step = width / len(looks)
    poses = [
        Pose(step * (index + 0.5), height * 0.45, min(step, height) * 0.24, rng.uniform(-0.05, 0.05), rng.uniform(-0.3, 0.3))
        for index in range(len(looks))
    ]
    for look, pose in zip(looks, poses, strict=True):
        _draw_body(image, rng, look, pose)
    return _finish(image, list(zip(looks, poses, strict=True)), seed)
