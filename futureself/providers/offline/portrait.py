"""Offline portraits: a calm, stylised bust drawn locally with Pillow.

Every feature comes from the card, so the same card always gives the same
picture and two selves look different: the path and title choose the palette,
the age greys the hair, mood words in the personality and tagline shape the
expression and warm or cool the background, and the unexpected path gets an
accent ring of its own.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import io
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from futureself.providers.base import ImageResult

MODEL = "offline-portrait"
SIZE = 512
SCALE = 2  # drawn at twice the size, then downsampled for smooth edges
DEFAULT_AGE = 40

Color = tuple[int, int, int]

# Mood words looked for in the personality, tagline and speaking style.
_WARM = """
hopeful warm joyful joy content contented calm peaceful proud grateful playful free happy kind
gentle optimistic serene fulfilled open curious cheerful confident bright settled loving tender
light relaxed energetic enthusiastic alive glad generous patient wise secure
"""
_HEAVY = """
tired regret regretful lonely wistful melancholic melancholy guarded anxious sad bittersweet weary
restless bitter quiet cautious worn heavy grieving uncertain resigned distant reserved stern serious
haunted sorrowful nostalgic frustrated lost
"""
WARM_WORDS = frozenset(_WARM.split())
HEAVY_WORDS = frozenset(_HEAVY.split())

SKIN_TONES: tuple[Color, ...] = (
    (250, 221, 196),
    (241, 200, 167),
    (224, 172, 134),
    (198, 140, 101),
    (160, 104, 70),
    (116, 74, 50),
)
HAIR_COLOURS: tuple[Color, ...] = (
    (44, 34, 30),  # near black
    (84, 56, 40),  # dark brown
    (128, 84, 54),  # chestnut
    (166, 96, 58),  # auburn
    (206, 168, 110),  # dark blonde
)
GREY_HAIR: Color = (218, 216, 212)
HAIR_STYLES = ("short", "long", "bun", "curly", "wavy")


@dataclass(frozen=True, slots=True)
class Features:
    background_top: Color
    background_bottom: Color
    glow: Color
    clothing: Color
    clothing_shade: Color
    skin: Color
    hair: Color
    hair_style: str
    mood: float  # -1 heavy .. +1 warm
    age: int
    glasses: bool
    collar: str
    accent: Color | None
    seed: int


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()


def _hls(hue: float, lightness: float, saturation: float) -> Color:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, max(0.0, min(1.0, lightness)), max(0.0, min(1.0, saturation)))
    return (round(r * 255), round(g * 255), round(b * 255))


def _mix(a: Color, b: Color, t: float) -> Color:
    t = max(0.0, min(1.0, t))
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _shade(color: Color, amount: float) -> Color:
    return _mix(color, (0, 0, 0), amount) if amount > 0 else _mix(color, (255, 255, 255), -amount)


def _skin_shadow(skin: Color, amount: float = 0.2) -> Color:
    # Shading towards a warm brown rather than black keeps light skin from turning grey.
    return _mix(skin, (112, 58, 44), amount)


def mood_of(card: Mapping[str, Any]) -> float:
    """-1 (heavy) to +1 (warm), from the mood words of the personality and tagline."""
    text = " ".join(str(card.get(key) or "") for key in ("personality", "tagline", "speaking_style"))
    words = re.findall(r"[a-z]+", text.lower())
    warm = sum(word in WARM_WORDS for word in words)
    heavy = sum(word in HEAVY_WORDS for word in words)
    if warm + heavy == 0:
        return 0.2  # a neutral self still looks kindly at you
    return (warm - heavy) / (warm + heavy)


def _identity_key(card: Mapping[str, Any]) -> str:
    # The selves of one person differ in path and title but their titles
    # usually start with the person's name ("Maya who chose..."): keeping skin
    # and natural hair colour on that makes them look like the same person.
    title = str(card.get("title") or "").strip()
    return title.split(" ")[0].lower() if title else ""


def features_for(card: Mapping[str, Any], prompt: str = "") -> Features:
    path, title = str(card.get("path") or ""), str(card.get("title") or "")
    palette = _digest("palette", path, title, prompt if not (path or title) else "")
    identity = _digest("identity", _identity_key(card))
    style = _digest("style", path, title, card.get("years_ahead"))
    mood = mood_of(card)
    age = card.get("age")
    age = int(age) if isinstance(age, int | float) else DEFAULT_AGE

    # Warm moods pull the hue towards amber, heavy ones towards dusk blue.
    base_hue = palette[0] / 255
    target = 0.08 if mood >= 0 else 0.6
    hue = base_hue + ((target - base_hue + 0.5) % 1.0 - 0.5) * abs(mood) * 0.6
    saturation = 0.38 + 0.14 * max(mood, 0)
    background_top = _hls(hue, 0.86, saturation)
    background_bottom = _hls(hue + 0.05, 0.72, saturation + 0.06)
    glow = _hls(hue - 0.03, 0.95, 0.6)
    clothing_hue = hue + 0.35 + (palette[1] / 255) * 0.3
    clothing = _hls(clothing_hue, 0.42 + (palette[2] / 255) * 0.12, 0.38)

    natural_hair = HAIR_COLOURS[identity[1] % len(HAIR_COLOURS)]
    greying = max(0.0, min(1.0, (age - 38) / 34))
    hair = _mix(natural_hair, GREY_HAIR, greying**0.8)

    accent = _hls(hue + 0.5, 0.55, 0.75) if card.get("unexpected") else None
    return Features(
        background_top=background_top,
        background_bottom=background_bottom,
        glow=glow,
        clothing=clothing,
        clothing_shade=_shade(clothing, 0.18),
        skin=SKIN_TONES[identity[0] % len(SKIN_TONES)],
        hair=hair,
        hair_style=HAIR_STYLES[style[0] % len(HAIR_STYLES)],
        mood=mood,
        age=age,
        glasses=age >= 55 and style[1] % 2 == 0,
        collar=("v", "crew", "open")[style[2] % 3],
        accent=accent,
        seed=int.from_bytes(style[3:11], "big"),
    )


# --- drawing -----------------------------------------------------------------


def _s(value: float) -> int:
    return round(value * SCALE)


def _box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
    return (_s(x0), _s(y0), _s(x1), _s(y1))


def _gradient(top: Color, bottom: Color, size: int) -> Image.Image:
    column = Image.new("RGB", (1, size))
    for y in range(size):
        column.putpixel((0, y), _mix(top, bottom, y / (size - 1)))
    return column.resize((size, size))


def _soft_ellipse(
    size: int, box: tuple[int, int, int, int], *, blur: float, fill: int | None = None, width: int = 0
) -> Image.Image:
    """A blurred elliptic mask: filled with ``fill``, or an outline ``width`` wide."""
    mask = Image.new("L", (size, size), 0)
    if fill is not None:
        ImageDraw.Draw(mask).ellipse(box, fill=fill)
    else:
        ImageDraw.Draw(mask).ellipse(box, outline=255, width=width)
    return mask.filter(ImageFilter.GaussianBlur(blur))


def render_portrait(features: Features) -> bytes:
    size = SIZE * SCALE
    rng = random.Random(features.seed)
    image = _gradient(features.background_top, features.background_bottom, size)

    # Background: a few soft, out-of-focus discs, then a glow behind the head.
    for _ in range(4):
        cx, cy, r = rng.uniform(40, 472), rng.uniform(30, 300), rng.uniform(40, 110)
        tint = _mix(features.background_top, features.glow, rng.uniform(0.3, 0.9))
        mask = _soft_ellipse(size, _box(cx - r, cy - r, cx + r, cy + r), fill=110, blur=_s(18))
        image.paste(Image.new("RGB", (size, size), tint), (0, 0), mask)
    glow_mask = _soft_ellipse(size, _box(116, 60, 396, 340), fill=200, blur=_s(40))
    image.paste(Image.new("RGB", (size, size), features.glow), (0, 0), glow_mask)

    if features.accent is not None:
        ring = _soft_ellipse(size, _box(98, 42, 414, 358), width=_s(7), blur=_s(1.5))
        image.paste(Image.new("RGB", (size, size), features.accent), (0, 0), ring)

    draw = ImageDraw.Draw(image)
    if features.accent is not None:
        for _ in range(5):
            angle_x, angle_y = rng.uniform(60, 452), rng.uniform(40, 260)
            if 150 < angle_x < 362 and angle_y > 80:
                continue  # keep sparkles off the face
            _sparkle(draw, angle_x, angle_y, rng.uniform(7, 12), features.accent)

    skin, hair = features.skin, features.hair
    skin_shadow = _skin_shadow(skin)
    hair_shade = _shade(hair, 0.15)
    cx = SIZE / 2

    # Long hair falls behind the shoulders.
    if features.hair_style in ("long", "wavy"):
        length = 370 if features.hair_style == "long" else 330
        draw.rounded_rectangle(_box(cx - 118, 120, cx + 118, length), radius=_s(90), fill=hair_shade)

    # Shoulders and neck.
    draw.ellipse(_box(cx - 205, 372, cx + 205, 640), fill=features.clothing)
    draw.rounded_rectangle(_box(cx - 40, 270, cx + 40, 400), radius=_s(26), fill=skin_shadow)
    _collar(draw, features, cx)

    # Head.
    if features.hair_style == "bun":
        draw.ellipse(_box(cx - 46, 58, cx + 46, 140), fill=hair)
    draw.ellipse(_box(cx - 15 - 92, 210, cx - 92 + 15, 262), fill=skin_shadow)  # ears
    draw.ellipse(_box(cx + 92 - 15, 210, cx + 92 + 15, 262), fill=skin_shadow)
    draw.ellipse(_box(cx - 96, 112, cx + 96, 334), fill=skin)
    _hair_top(image, features, cx, rng)
    _face(image, draw, features, cx)

    image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _sparkle(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, color: Color) -> None:
    w = r * 0.28
    points = [
        (x, y - r),
        (x + w, y - w),
        (x + r, y),
        (x + w, y + w),
        (x, y + r),
        (x - w, y + w),
        (x - r, y),
        (x - w, y - w),
    ]
    draw.polygon([(_s(px), _s(py)) for px, py in points], fill=color)


def _collar(draw: ImageDraw.ImageDraw, features: Features, cx: float) -> None:
    skin_shadow = _skin_shadow(features.skin)
    if features.collar == "v":
        draw.polygon([(_s(cx - 52), _s(378)), (_s(cx + 52), _s(378)), (_s(cx), _s(440))], fill=skin_shadow)
        draw.line(
            [(_s(cx - 60), _s(376)), (_s(cx), _s(446)), (_s(cx + 60), _s(376))],
            fill=features.clothing_shade,
            width=_s(8),
            joint="curve",
        )
    elif features.collar == "crew":
        draw.chord(_box(cx - 52, 350, cx + 52, 412), 0, 180, fill=skin_shadow)
        draw.arc(_box(cx - 56, 350, cx + 56, 418), 0, 180, fill=features.clothing_shade, width=_s(8))
    else:
        draw.polygon([(_s(cx - 46), _s(380)), (_s(cx + 46), _s(380)), (_s(cx), _s(426))], fill=skin_shadow)
        for side in (-1, 1):
            draw.polygon(
                [(_s(cx + side * 40), _s(372)), (_s(cx + side * 80), _s(382)), (_s(cx + side * 6), _s(440))],
                fill=features.clothing_shade,
            )


def _hair_top(image: Image.Image, features: Features, cx: float, rng: random.Random) -> None:
    hair = features.hair
    draw = ImageDraw.Draw(image)
    if features.hair_style == "curly":
        for index in range(11):
            x = cx - 92 + index * 18.4
            top = 118 + abs(index - 5) ** 1.6 * 2.2
            draw.ellipse(_box(x - 26, top - 30, x + 26, top + 22), fill=hair)
    # The hair is the top of a slightly larger head with a curved, parted
    # hairline cut out of it, so it frames the face instead of capping it.
    mask = Image.new("L", image.size, 0)
    shape = ImageDraw.Draw(mask)
    shape.ellipse(_box(cx - 104, 98, cx + 104, 300), fill=255)
    shape.ellipse(_box(cx - 160, 200, cx + 160, 480), fill=0)  # sideburns end near the ears
    parting = rng.choice((-1, 1)) * rng.uniform(8, 16)
    shape.ellipse(_box(cx - 84 + parting, 168, cx + 84 + parting, 380), fill=0)
    shape.ellipse(_box(cx - 60 + parting * 1.6, 150, cx + 60 + parting * 1.6, 300), fill=0)
    image.paste(Image.new("RGB", image.size, hair), (0, 0), mask)


def _face(image: Image.Image, draw: ImageDraw.ImageDraw, features: Features, cx: float) -> None:
    ink = _shade(features.skin, 0.62)
    mood = features.mood

    # Blush, softer for heavier moods.
    blush = _mix(features.skin, (226, 110, 110), 0.35 + 0.15 * max(mood, 0))
    for side in (-1, 1):
        x = cx + side * 58
        mask = _soft_ellipse(image.width, _box(x - 22, 250, x + 22, 278), fill=150, blur=_s(7))
        image.paste(Image.new("RGB", image.size, blush), (0, 0), mask)

    eye_y = 226
    for side in (-1, 1):
        x = cx + side * 38
        if mood > 0.5:
            # Smiling eyes: gentle upward arcs.
            draw.arc(_box(x - 13, eye_y - 7, x + 13, eye_y + 11), 200, 340, fill=ink, width=_s(4.5))
        else:
            draw.ellipse(_box(x - 7, eye_y - 8, x + 7, eye_y + 8), fill=ink)
            draw.ellipse(_box(x - 1, eye_y - 6, x + 3, eye_y - 2), fill=(255, 255, 255))
        # Brows tilt inwards-up when the mood is heavy.
        tilt = -6 * min(mood, 0)
        inner = (x - side * 14, eye_y - 24 - tilt)
        outer = (x + side * 16, eye_y - 22 + tilt * 0.3)
        draw.line(
            [(_s(inner[0]), _s(inner[1])), (_s(outer[0]), _s(outer[1]))], fill=_shade(features.hair, 0.1), width=_s(5)
        )

    if features.glasses:
        frame = _shade(features.hair, 0.45)
        for side in (-1, 1):
            x = cx + side * 38
            draw.rounded_rectangle(
                _box(x - 24, eye_y - 18, x + 24, eye_y + 17), radius=_s(10), outline=frame, width=_s(3.5)
            )
        draw.line([(_s(cx - 14), _s(eye_y - 4)), (_s(cx + 14), _s(eye_y - 4))], fill=frame, width=_s(3.5))

    # Nose: a small soft stroke.
    draw.arc(_box(cx - 9, 238, cx + 9, 262), 300, 60, fill=_skin_shadow(features.skin, 0.4), width=_s(3.5))

    # Mouth: curvature follows the mood; depth of the arc is the smile.
    mouth_y = 287
    width = 28 + 8 * max(mood, 0)
    depth = 4 + 14 * mood
    if depth >= 0:
        draw.arc(_box(cx - width, mouth_y - depth, cx + width, mouth_y + depth), 15, 165, fill=ink, width=_s(4.5))
    else:
        draw.arc(_box(cx - width, mouth_y + 4, cx + width, mouth_y + 4 - 2 * depth), 205, 335, fill=ink, width=_s(4.5))

    if features.age >= 58:
        lines = _skin_shadow(features.skin, 0.35)
        for side in (-1, 1):
            x = cx + side * 58
            draw.arc(
                _box(x - 8, eye_y - 6, x + 8, eye_y + 10),
                300 if side > 0 else 120,
                60 if side > 0 else 240,
                fill=lines,
                width=_s(2.5),
            )


class OfflinePortraits:
    name = "offline"

    async def generate(self, prompt: str, *, context: Mapping[str, Any] | None = None) -> ImageResult:
        """A 512x512 PNG drawn from the card in ``context``, off the event loop."""
        features = features_for(context or {}, prompt)
        data = await asyncio.to_thread(render_portrait, features)
        return ImageResult(data=data, content_type="image/png", model=MODEL)
