"""The offline engine: a deterministic composition study drawn from the brief with Pillow.

No network and no model weights. The sketch reads the brief's words — lighting picks the
palette, frame picks the layout, subject picks a silhouette, style picks a treatment — and
draws them in real steps, each reported as progress with a small preview. The same brief,
seed and size always give the same bytes. The picture says plainly that it is a sketch.
"""

from __future__ import annotations

import asyncio
import colorsys
import functools
import io
import random
import re
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from . import EngineEvent, EngineRequest, Finished, Partial, Progress

RGB = tuple[int, int, int]

PREVIEW_EDGE = 256  # partial previews are small: they only show the work is moving
OFFLINE_LABEL = "OFFLINE SKETCH - composition study, not a generated image"


# --- reading the brief --------------------------------------------------------------------


@dataclass(frozen=True)
class Palette:
    top: RGB
    bottom: RGB
    subject: RGB
    accent: RGB


# First match wins, so the more specific moods come before the broad ones.
LIGHTING_PALETTES: tuple[tuple[tuple[str, ...], Palette], ...] = (
    (
        ("firelight", "fire", "candle", "candlelight", "ember", "torch", "campfire", "hearth"),
        Palette(top=(58, 12, 8), bottom=(196, 84, 22), subject=(28, 6, 4), accent=(255, 170, 60)),
    ),
    (
        ("golden", "sunset", "sunrise", "dusk", "dawn", "warm"),
        Palette(
            top=(255, 196, 120), bottom=(206, 92, 44), subject=(70, 34, 30), accent=(255, 236, 180)
        ),
    ),
    (
        ("night", "moon", "moonlight", "moonlit", "neon", "midnight", "blue hour", "starlight"),
        Palette(top=(14, 16, 58), bottom=(96, 22, 110), subject=(6, 6, 20), accent=(255, 64, 200)),
    ),
    (
        ("daylight", "sunny", "noon", "bright", "sunlight", "midday", "sun"),
        Palette(
            top=(236, 242, 248),
            bottom=(196, 206, 212),
            subject=(64, 74, 86),
            accent=(255, 255, 255),
        ),
    ),
    (
        ("soft", "studio", "diffuse", "diffused", "softbox", "overcast"),
        Palette(
            top=(238, 238, 238),
            bottom=(198, 198, 198),
            subject=(92, 92, 96),
            accent=(255, 255, 255),
        ),
    ),
)

SUBJECT_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "figure",
        (
            "person", "woman", "man", "girl", "boy", "child", "figure", "dancer", "chef",
            "model", "character", "astronaut", "people", "portrait", "skater", "runner",
            "hiker", "climber", "rider",
        ),
    ),
    (
        "building",
        ("building", "house", "tower", "city", "castle", "skyline", "cabin", "church", "shop"),
    ),
    ("mountain", ("mountain", "peak", "hill", "volcano", "dune", "iceberg")),
    (
        "product",
        ("bottle", "cup", "mug", "perfume", "watch", "shoe", "sneaker", "phone", "product", "can"),
    ),
)  # fmt: skip


@functools.cache
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words (plurals allowed), so "man" does not fire on "woman" nor "can" on "candle".
    return re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")(?:s|es)?\b")


def _has(text: str, words: tuple[str, ...]) -> bool:
    return _word_pattern(words).search(text) is not None


def _jitter(colour: RGB, rng: random.Random, amount: int = 14) -> RGB:
    """Nudge a colour per seed so two seeds of one brief are told apart at a glance."""
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


def choose_palette(lighting: str, rng: random.Random) -> Palette:
    """The light palette for the lighting words; unknown lighting gets a muted seed hue."""
    text = lighting.lower()
    for words, palette in LIGHTING_PALETTES:
        if _has(text, words):
            return Palette(
                *(_jitter(c, rng) for c in (palette.top, palette.bottom)),
                palette.subject,
                palette.accent,
            )
    hue = rng.random()

    def hls(lightness: float, saturation: float) -> RGB:
        r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
        return (round(r * 255), round(g * 255), round(b * 255))

    return Palette(
        top=hls(0.78, 0.18), bottom=hls(0.55, 0.16), subject=hls(0.22, 0.2), accent=hls(0.92, 0.3)
    )


@dataclass(frozen=True)
class Layout:
    """Where the subject goes, as fractions of the canvas."""

    cx: float
    cy: float  # the subject's base line
    scale: float  # subject height / canvas height
    horizon: float | None


def choose_layout(frame: str, style: str, rng: random.Random) -> Layout:
    text = frame.lower()
    if _has(text, ("wide", "landscape", "establishing", "long shot", "panorama", "aerial")):
        scale, cy, horizon = 0.24, 0.8, 0.66  # small subject standing in the low third
    elif _has(text, ("close-up", "close up", "closeup", "portrait", "headshot", "macro", "tight")):
        scale, cy, horizon = 0.72, 0.9, None  # large subject filling the centre
    else:
        scale, cy, horizon = 0.46, 0.82, 0.74
    if _has(text, ("left",)):
        cx = 1 / 3
    elif _has(text, ("right",)):
        cx = 2 / 3
    elif _has(text, ("thirds",)):
        cx = rng.choice((1 / 3, 2 / 3))
    else:
        cx = 0.5 + rng.uniform(-0.03, 0.03)
    if choose_treatment(style) == "minimal":
        scale *= 0.6  # lots of empty space around a small subject
    return Layout(cx=cx, cy=cy, scale=scale, horizon=horizon)


def choose_shape(subject: str) -> str:
    text = subject.lower()
    for shape, words in SUBJECT_SHAPES:
        if _has(text, words):
            return shape
    return "object"


def choose_treatment(style: str) -> str:
    text = style.lower()
    if _has(text, ("cinematic", "film still", "anamorphic", "movie")):
        return "cinematic"
    if _has(text, ("illustration", "illustrated", "cartoon", "comic", "vector", "drawn", "anime")):
        return "illustration"
    if _has(text, ("minimal", "minimalist", "clean", "flat")):
        return "minimal"
    if _has(
        text, ("photo", "photograph", "photographic", "photorealistic", "realistic", "35mm", "dslr")
    ):
        return "photographic"
    return "grain"


# --- drawing helpers ----------------------------------------------------------------------


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow >= 10.1 ships a scalable default font, so no font files are needed.
    return ImageFont.load_default(size=max(10, size))


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(size)
    return ImageOps.colorize(ramp, black=top, white=bottom).convert("RGBA")


def _grain(size: tuple[int, int], seed: int, strength: int) -> Image.Image:
    """Seeded noise tiled over the canvas (Image.effect_noise cannot be seeded)."""
    rng = random.Random(seed)
    tile_edge = 128
    tile = Image.frombytes("L", (tile_edge, tile_edge), rng.randbytes(tile_edge * tile_edge))
    tile = tile.point(lambda v: 128 + (v - 128) * strength // 128)
    noise = Image.new("L", size)
    for x in range(0, size[0], tile_edge):
        for y in range(0, size[1], tile_edge):
            noise.paste(tile, (x, y))
    return noise


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int
) -> list[str]:
    """Greedy word wrap to a pixel width, ending with an ellipsis when it overflows."""
    average = max(1.0, font.getlength("abcdefghijklmnopqrstuvwxyz") / 26)
    lines = textwrap.wrap(text, width=max(8, int(width / average))) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(" .,;") + "..."
    return lines


def _text_box(
    canvas: Image.Image,
    lines: list[str],
    font,
    anchor_xy: tuple[int, int],
    align: str,
    fill: RGB = (255, 255, 255),
) -> None:
    """Draw lines on a translucent dark box; anchor is the box's bottom-centre or top-left."""
    size = font.size if hasattr(font, "size") else 12
    pad = max(4, size // 3)
    line_h = int(size * 1.25)
    width = max(int(font.getlength(line)) for line in lines) + 2 * pad
    height = line_h * len(lines) + 2 * pad
    x, y = anchor_xy
    if align == "bottom-centre":
        x, y = x - width // 2, y - height
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rounded_rectangle((x, y, x + width, y + height), radius=pad, fill=(0, 0, 0, 150))
    for i, line in enumerate(lines):
        draw.text((x + pad, y + pad + i * line_h), line, font=font, fill=(*fill, 255))
    canvas.alpha_composite(overlay)


def _preview(canvas: Image.Image) -> bytes:
    small = canvas.convert("RGB")
    small.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _png(canvas: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Level 1: a sketch is cheap to redraw, so speed matters more than a few kilobytes.
    canvas.convert("RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


# --- a generation, step by step -----------------------------------------------------------


@dataclass
class _Study:
    """The state a generation carries from step to step."""

    request: EngineRequest
    seed: int
    subject: str
    frame: str
    lighting: str
    style: str
    rng: random.Random = field(init=False)
    palette: Palette | None = None
    layout: Layout | None = None
    canvas: Image.Image | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def size(self) -> tuple[int, int]:
        return (self.request.width, self.request.height)


def _study_for(request: EngineRequest, slot: int) -> _Study:
    brief = request.brief
    # Without a brief every reading falls back to the whole prompt.
    fallback = "" if brief else request.prompt
    style = " ".join(filter(None, (brief.get("style", ""), brief.get("finish", "")))) or fallback
    return _Study(
        request=request,
        seed=request.seed + slot,
        subject=brief.get("subject", "") or request.prompt,
        frame=brief.get("frame", "") or fallback,
        lighting=brief.get("lighting", "") or fallback,
        style=style,
    )


def _step_palette(study: _Study) -> None:
    study.palette = choose_palette(study.lighting, study.rng)
    if choose_treatment(study.style) == "minimal":
        flat = tuple(
            (a + b) // 2 for a, b in zip(study.palette.top, study.palette.bottom, strict=True)
        )
        study.canvas = Image.new("RGBA", study.size, (*flat, 255))
    else:
        study.canvas = _gradient(study.size, study.palette.top, study.palette.bottom)


def _step_layout(study: _Study) -> None:
    assert study.canvas is not None and study.palette is not None
    study.layout = layout = choose_layout(study.frame, study.style, study.rng)
    w, h = study.size
    overlay = Image.new("RGBA", study.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    if layout.horizon is not None:
        y = int(h * layout.horizon)
        ground = tuple(int(c * 0.7) for c in study.palette.bottom)
        draw.rectangle((0, y, w, h), fill=(*ground, 200))
        draw.line((0, y, w, y), fill=(*study.palette.accent, 180), width=max(1, h // 400))
    guide = (255, 255, 255, 70) if sum(study.palette.top) < 384 else (0, 0, 0, 55)
    line = max(1, min(w, h) // 512)
    for i in (1, 2):
        draw.line((w * i // 3, 0, w * i // 3, h), fill=guide, width=line)
        draw.line((0, h * i // 3, w, h * i // 3), fill=guide, width=line)
    study.canvas.alpha_composite(overlay)


def _step_subject(study: _Study) -> None:
    assert study.canvas is not None and study.palette is not None and study.layout is not None
    w, h = study.size
    layout = study.layout
    tall = h * layout.scale
    cx, base = w * layout.cx, h * layout.cy
    body = (*study.palette.subject, 255)
    rim = (*study.palette.accent, 200)
    rim_width = max(1, int(tall / 90))
    overlay = Image.new("RGBA", study.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    # A soft contact shadow grounds the subject.
    draw.ellipse(
        (cx - tall * 0.35, base - tall * 0.04, cx + tall * 0.35, base + tall * 0.04),
        fill=(0, 0, 0, 70),
    )
    shape = choose_shape(study.subject)
    if shape == "figure":
        head = tall * 0.16
        draw.rounded_rectangle(
            (cx - tall * 0.2, base - tall * 0.72, cx + tall * 0.2, base),
            radius=int(tall * 0.12),
            fill=body,
            outline=rim,
            width=rim_width,
        )
        draw.ellipse(
            (cx - head, base - tall * 0.72 - 2 * head, cx + head, base - tall * 0.72),
            fill=body,
            outline=rim,
            width=rim_width,
        )
    elif shape == "building":
        draw.rectangle(
            (cx - tall * 0.3, base - tall * 0.62, cx + tall * 0.3, base),
            fill=body,
            outline=rim,
            width=rim_width,
        )
        draw.polygon(
            [
                (cx - tall * 0.36, base - tall * 0.6),
                (cx, base - tall),
                (cx + tall * 0.36, base - tall * 0.6),
            ],
            fill=body,
            outline=rim,
            width=rim_width,
        )
    elif shape == "mountain":
        draw.polygon(
            [(cx - tall * 0.9, base), (cx, base - tall), (cx + tall * 0.9, base)],
            fill=body,
            outline=rim,
            width=rim_width,
        )
    elif shape == "product":
        draw.rounded_rectangle(
            (cx - tall * 0.17, base - tall * 0.8, cx + tall * 0.17, base),
            radius=int(tall * 0.08),
            fill=body,
            outline=rim,
            width=rim_width,
        )
        draw.rectangle(
            (cx - tall * 0.07, base - tall, cx + tall * 0.07, base - tall * 0.8),
            fill=body,
            outline=rim,
            width=rim_width,
        )
    else:
        draw.ellipse(
            (cx - tall * 0.45, base - tall, cx + tall * 0.45, base),
            fill=body,
            outline=rim,
            width=rim_width,
        )
    study.canvas.alpha_composite(overlay)


def _step_style(study: _Study) -> None:
    assert study.canvas is not None
    treatment = choose_treatment(study.style)
    w, h = study.size
    rgb = study.canvas.convert("RGB")
    if treatment == "cinematic":
        rgb = ImageEnhance.Contrast(rgb).enhance(1.3)
        # Bars towards 2.39:1, but never so thick that they swallow a square or tall frame.
        bar = min(max(int((h - w / 2.39) / 2), h // 14), h // 8)
        draw = ImageDraw.Draw(rgb)
        draw.rectangle((0, 0, w, bar), fill=(0, 0, 0))
        draw.rectangle((0, h - bar, w, h), fill=(0, 0, 0))
    elif treatment == "illustration":
        rgb = ImageOps.posterize(rgb, 3)
        edges = (
            rgb.convert("L").filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v > 24 else 0)
        )
        edges = edges.filter(ImageFilter.MaxFilter(3))
        rgb.paste((20, 20, 24), mask=edges)
    elif treatment == "minimal":
        rgb = ImageEnhance.Color(rgb).enhance(0.6)
    else:
        noise = _grain(study.size, study.seed, strength=40)
        rgb = Image.blend(rgb, Image.merge("RGB", (noise, noise, noise)), 0.06)
        if treatment == "photographic":
            # A vignette: darker towards the edges.
            falloff = Image.radial_gradient("L").resize(study.size)
            rgb = Image.composite(
                Image.new("RGB", study.size), rgb, falloff.point(lambda v: v // 3)
            )
    study.canvas = rgb.convert("RGBA")


def _step_label(study: _Study) -> None:
    assert study.canvas is not None
    w, h = study.size
    font = _font(h // 24)
    lines = _wrap(study.subject, font, int(w * 0.8), max_lines=2)
    _text_box(study.canvas, lines, font, (w // 2, h - h // 20), "bottom-centre")
    small = _font(h // 56)
    margin = max(6, h // 80)
    _text_box(
        study.canvas,
        [f"{OFFLINE_LABEL} - seed {study.seed}"],
        small,
        (margin, margin),
        "top-left",
        fill=(255, 230, 120),
    )


GENERATION_STEPS: tuple[tuple[str, Callable[[_Study], None]], ...] = (
    ("Mixing the light palette", _step_palette),
    ("Blocking out the frame", _step_layout),
    ("Placing the subject", _step_subject),
    ("Applying the style", _step_style),
    ("Labelling the sketch", _step_label),
)


# --- an edit, step by step ----------------------------------------------------------------


@dataclass
class _Edit:
    """The state an edit carries from step to step."""

    request: EngineRequest
    seed: int
    source: Image.Image | None = None
    region: Image.Image | None = None  # L: 255 where the edit goes (mask alpha == 0)
    layer: Image.Image | None = None  # the edit treatment, full size
    canvas: Image.Image | None = None

    @property
    def size(self) -> tuple[int, int]:
        return (self.request.width, self.request.height)

    def compose(self) -> None:
        """Edit treatment inside the region, the untouched source everywhere else."""
        assert self.layer is not None and self.source is not None and self.region is not None
        self.canvas = Image.composite(self.layer, self.source, self.region)


def _open_rgba(data: bytes, size: tuple[int, int]) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image = image.convert("RGBA")
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def _edit_read(edit: _Edit) -> None:
    request = edit.request
    assert request.image is not None
    edit.source = _open_rgba(request.image, edit.size)
    if request.mask is None:
        edit.region = Image.new("L", edit.size, 255)  # no mask: the whole image may change
    else:
        alpha = _open_rgba(request.mask, edit.size).getchannel("A")
        edit.region = alpha.point(lambda a: 255 if a == 0 else 0)
    edit.layer = edit.source.copy()
    edit.compose()


def _edit_tint(edit: _Edit) -> None:
    assert edit.layer is not None
    brief = edit.request.brief
    rng = random.Random(edit.seed)
    palette = choose_palette(brief.get("lighting", "") or edit.request.prompt, rng)
    tint = Image.new("RGBA", edit.size, (*palette.accent, 255))
    edit.layer = Image.blend(edit.layer, tint, 0.45)
    edit.compose()


def _edit_hatch(edit: _Edit) -> None:
    assert edit.layer is not None
    w, h = edit.size
    spacing = max(8, min(w, h) // 40)
    offset = random.Random(edit.seed).randrange(spacing)
    draw = ImageDraw.Draw(edit.layer)
    for x in range(-h + offset, w, spacing):
        draw.line((x, h, x + h, 0), fill=(40, 40, 48, 255), width=max(1, spacing // 6))
    edit.compose()


def _edit_label(edit: _Edit) -> None:
    assert edit.layer is not None and edit.region is not None
    request = edit.request
    w, h = edit.size
    box = edit.region.getbbox() or (0, 0, w, h)
    left, top, right, bottom = box
    margin = max(4, h // 100)
    small = _font(h // 56)
    _text_box(
        edit.layer,
        ["OFFLINE SKETCH - edit"],
        small,
        (left + margin, top + margin),
        "top-left",
        fill=(255, 230, 120),
    )
    font = _font(max(12, min(h // 28, (bottom - top) // 6)))
    lines = _wrap(request.prompt, font, int((right - left) * 0.85), max_lines=3)
    _text_box(edit.layer, lines, font, ((left + right) // 2, bottom - margin), "bottom-centre")
    # References only show up as a thumbnail strip: the sketch cannot "use" them.
    thumb = max(16, min(w, h) // 12)
    for i, data in enumerate(request.references[:6]):
        image = Image.open(io.BytesIO(data)).convert("RGBA")
        image.thumbnail((thumb, thumb))
        edit.layer.alpha_composite(image, (right - margin - (i + 1) * (thumb + 4), top + margin))
    edit.compose()


EDIT_STEPS: tuple[tuple[str, Callable[[_Edit], None]], ...] = (
    ("Reading the source and mask", _edit_read),
    ("Tinting the area to change", _edit_tint),
    ("Hatching the area to change", _edit_hatch),
    ("Writing the requested change", _edit_label),
    ("Keeping everything outside the mask", _Edit.compose),
)


# --- the engine ---------------------------------------------------------------------------


def _run_step(state, step: Callable, preview: bool) -> bytes | None:
    """One step plus its optional preview, together in a worker thread."""
    step(state)
    return _preview(state.canvas) if preview else None


class SketchEngine:
    """Offline, deterministic engine for development, tests and demos."""

    name = "sketch"

    def __init__(self, step_delay: float = 0.0) -> None:
        self.step_delay = step_delay  # slows the steps down so a demo can watch them

    async def run(self, request: EngineRequest) -> AsyncIterator[EngineEvent]:
        """Draw each slot in turn; every step yields progress, middle steps a preview."""
        for slot in range(request.n):
            if request.is_edit:
                state = _Edit(request=request, seed=request.seed + slot)
                steps = EDIT_STEPS
            else:
                state = _study_for(request, slot)
                steps = GENERATION_STEPS
            # Previews come from the middle steps, at most as many as were asked for.
            middle = range(1, len(steps) - 1)
            preview_steps = set(list(middle)[: max(0, request.partial_images)])
            partial_index = 0
            for number, (message, step) in enumerate(steps):
                if number and self.step_delay:
                    await asyncio.sleep(self.step_delay)
                # Pillow work runs in a thread so the event loop stays responsive.
                preview = await asyncio.to_thread(_run_step, state, step, number in preview_steps)
                yield Progress(slot=slot, fraction=(number + 1) / len(steps), message=message)
                if preview is not None:
                    yield Partial(slot=slot, index=partial_index, image=preview)
                    partial_index += 1
            image = await asyncio.to_thread(_png, state.canvas)
            yield Finished(slot=slot, image=image, width=request.width, height=request.height)

    async def aclose(self) -> None:
        """Nothing to release; present so every engine can be closed the same way."""
