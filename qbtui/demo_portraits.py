"""Synthetic friend portraits drawn with Pillow, for the demo workspace and tests.

Each friend has a fixed look (skin, hair style and colour, glasses); each picture varies
pose, size, background and clothing, so that no two look like the same shot to the
near-duplicate check.
"""

from __future__ import annotations

import colorsys
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Look:
    """What stays the same in every picture of one friend."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    hair_style: str  # "curly" | "long" | "short" | "bun"
    glasses: bool


def _background_colour(rng: random.Random, index: int) -> tuple[int, int, int]:
    hue = (index * 0.381966 + rng.random() * 0.1) % 1.0
    lightness = 0.35 + 0.5 * ((index * 7) % 5) / 4
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.35 + 0.5 * rng.random())
    return int(red * 255), int(green * 255), int(blue * 255)


def _draw_background(draw: ImageDraw.ImageDraw, rng: random.Random, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    width, height = size
    draw.rectangle((0, 0, width, height), fill=colour)
    accent = tuple(max(0, min(255, channel + rng.choice((-90, 90)))) for channel in colour)
    pattern = rng.choice(("stripes", "window", "sun", "plain-floor"))
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


def _draw_hair_back(draw: ImageDraw.ImageDraw, look: Look, cx: float, cy: float, r: float) -> None:
    if look.hair_style == "long":
        draw.rounded_rectangle((cx - r * 1.15, cy - r * 1.05, cx + r * 1.15, cy + r * 1.6), radius=int(r * 0.6), fill=look.hair)
    elif look.hair_style == "bun":
        draw.ellipse((cx - r * 0.45, cy - r * 1.75, cx + r * 0.45, cy - r * 0.85), fill=look.hair)


def _draw_hair_front(draw: ImageDraw.ImageDraw, rng: random.Random, look: Look, cx: float, cy: float, r: float) -> None:
    if look.hair_style == "curly":
        for _ in range(28):
            angle_x = rng.uniform(-1.0, 1.0)
            x = cx + angle_x * r * 0.95
            y = cy - r * (0.75 + 0.35 * (1 - abs(angle_x))) + rng.uniform(-r * 0.12, r * 0.08)
            curl = r * rng.uniform(0.16, 0.26)
            draw.ellipse((x - curl, y - curl, x + curl, y + curl), fill=look.hair)
    else:
        draw.chord((cx - r * 1.02, cy - r * 1.12, cx + r * 1.02, cy + r * 0.55), 180, 360, fill=look.hair)


def _draw_face(draw: ImageDraw.ImageDraw, rng: random.Random, look: Look, cx: float, cy: float, r: float) -> None:
    draw.ellipse((cx - r * 0.85, cy - r, cx + r * 0.85, cy + r), fill=look.skin, outline=(60, 40, 30), width=3)
    eye_y = cy - r * 0.1
    gaze = rng.uniform(-r * 0.05, r * 0.05)
    for side in (-1, 1):
        ex = cx + side * r * 0.35
        draw.ellipse((ex - r * 0.12, eye_y - r * 0.08, ex + r * 0.12, eye_y + r * 0.08), fill=(250, 250, 250))
        draw.ellipse((ex + gaze - r * 0.05, eye_y - r * 0.05, ex + gaze + r * 0.05, eye_y + r * 0.05), fill=(30, 30, 40))
        if look.glasses:
            draw.ellipse((ex - r * 0.22, eye_y - r * 0.18, ex + r * 0.22, eye_y + r * 0.18), outline=(20, 20, 20), width=4)
    if look.glasses:
        draw.line((cx - r * 0.13, eye_y, cx + r * 0.13, eye_y), fill=(20, 20, 20), width=4)
    draw.line((cx, eye_y + r * 0.1, cx - r * 0.06, cy + r * 0.3), fill=(120, 70, 50), width=3)
    smile = rng.uniform(0.15, 0.3)
    draw.arc((cx - r * 0.35, cy + r * 0.2, cx + r * 0.35, cy + r * (0.45 + smile)), 15, 165, fill=(150, 40, 40), width=5)


def draw_portrait(look: Look, seed: int, size: tuple[int, int] = (512, 512)) -> Image.Image:
    """One RGB portrait of the friend with `look`; `seed` picks pose, framing and scene."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    _draw_background(draw, rng, size, _background_colour(rng, seed))
    unit = min(width, height)
    r = unit * rng.uniform(0.17, 0.26)
    cx = width / 2 + rng.uniform(-0.15, 0.15) * width
    cy = height * rng.uniform(0.36, 0.5)
    shirt = tuple(rng.randint(30, 230) for _ in range(3))
    draw.ellipse((cx - r * 1.9, cy + r * 1.05, cx + r * 1.9, cy + r * 4.2), fill=shirt)
    draw.rectangle((cx - r * 0.25, cy + r * 0.7, cx + r * 0.25, cy + r * 1.2), fill=look.skin)
    _draw_hair_back(draw, look, cx, cy, r)
    _draw_face(draw, rng, look, cx, cy, r)
    _draw_hair_front(draw, rng, look, cx, cy, r)
    return image
