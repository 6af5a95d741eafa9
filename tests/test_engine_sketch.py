"""The offline sketch engine: deterministic, step by step, exact sizes, edits keep the rest."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from studio.engines import EngineRequest, Finished, Partial, Progress
from studio.engines.sketch import SketchEngine

BRIEF = {
    "subject": "A ceramic coffee mug on a wooden table",
    "frame": "close-up, centred",
    "lighting": "golden hour sunlight",
    "style": "cinematic",
    "finish": "matte",
}


def make_request(**overrides) -> EngineRequest:
    fields = {
        "model": "sketch",
        "prompt": "A ceramic coffee mug on a wooden table, golden hour",
        "width": 1024,
        "height": 1024,
        "quality": "medium",
        "brief": BRIEF,
        "seed": 42,
    }
    return EngineRequest(**(fields | overrides))


async def run(request: EngineRequest) -> list:
    return [event async for event in SketchEngine().run(request)]


def finals(events: list) -> list[Finished]:
    return [event for event in events if isinstance(event, Finished)]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_same_brief_and_seed_give_identical_bytes():
    first, second = await run(make_request()), await run(make_request())
    assert finals(first)[0].image == finals(second)[0].image
    assert [e.image for e in first if isinstance(e, Partial)] == [
        e.image for e in second if isinstance(e, Partial)
    ]


async def test_a_different_seed_gives_a_different_image():
    first = finals(await run(make_request(seed=1)))[0]
    second = finals(await run(make_request(seed=2)))[0]
    assert first.image != second.image


async def test_each_slot_streams_progress_and_partials_then_one_finished():
    events = await run(make_request(n=2, partial_images=2))
    for slot in (0, 1):
        mine = [event for event in events if event.slot == slot]
        assert isinstance(mine[-1], Finished)
        assert sum(isinstance(event, Finished) for event in mine) == 1
        assert [e.index for e in mine if isinstance(e, Partial)] == [0, 1]
        fractions = [e.fraction for e in mine if isinstance(e, Progress)]
        assert len(fractions) == 5
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        # Progress always comes before the preview of the same step.
        assert isinstance(mine[0], Progress)
    # Slots run one after another, and each slot draws with seed + slot.
    assert [event.slot for event in events] == sorted(event.slot for event in events)
    slot_zero, slot_one = finals(events)
    assert slot_zero.image != slot_one.image
    assert slot_one.image == finals(await run(make_request(seed=43)))[0].image


async def test_partial_images_zero_means_no_previews():
    events = await run(make_request(partial_images=0))
    assert not [event for event in events if isinstance(event, Partial)]
    assert len(finals(events)) == 1


@pytest.mark.parametrize("size", [(1024, 1024), (1536, 864), (864, 1536)])
async def test_sizes_are_exact(size):
    events = await run(make_request(width=size[0], height=size[1]))
    final = finals(events)[0]
    image = decode(final.image)
    assert image.format == "PNG"
    assert image.size == size == (final.width, final.height)
    for partial in (event for event in events if isinstance(event, Partial)):
        preview = decode(partial.image)
        assert preview.format == "JPEG"
        assert max(preview.size) <= 256


def corner_colour(data: bytes) -> tuple[float, float, float]:
    """Mean colour of a background patch on the right, clear of subject and labels."""
    image = decode(data).convert("RGB")
    w, h = image.size
    return tuple(ImageStat.Stat(image.crop((int(w * 0.85), h // 5, w, h // 3))).mean)


async def test_palette_follows_the_lighting_words():
    def brief(lighting: str) -> dict[str, str]:
        return BRIEF | {"lighting": lighting, "style": "minimal"}

    golden = corner_colour(finals(await run(make_request(brief=brief("golden sunset"))))[0].image)
    night = corner_colour(
        finals(await run(make_request(brief=brief("night, neon signs"))))[0].image
    )
    daylight = corner_colour(finals(await run(make_request(brief=brief("daylight"))))[0].image)
    fire = corner_colour(finals(await run(make_request(brief=brief("firelight"))))[0].image)
    assert golden[0] > golden[2] + 60  # warm: far more red than blue
    assert night[2] > night[1] and sum(night) < sum(golden)  # dark and blue/magenta
    assert min(daylight) > 180  # bright and neutral
    assert fire[0] > fire[1] > fire[2] and sum(fire) < sum(golden)  # deep reds and ambers


async def test_unknown_words_still_give_a_picture_varied_by_seed():
    brief = {"subject": "zzz", "frame": "qqq", "lighting": "xyz", "style": "???"}
    first = finals(await run(make_request(brief=brief, seed=1)))[0]
    second = finals(await run(make_request(brief=brief, seed=2)))[0]
    assert corner_colour(first.image) != corner_colour(second.image)


def source_png(size: tuple[int, int]) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    ImageDraw.Draw(image).ellipse((40, 40, size[0] - 40, size[1] - 40), fill=(30, 120, 200))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def mask_png(size: tuple[int, int], hole: tuple[int, int, int, int]) -> bytes:
    """Opaque everywhere except `hole`, where alpha 0 marks the area to edit."""
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle(hole, fill=(0, 0, 0, 0))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


async def test_edit_changes_only_the_masked_area():
    size, hole = (1024, 1024), (300, 200, 799, 599)
    source = source_png(size)
    request = make_request(
        prompt="Replace the mug with a teapot",
        image=source,
        mask=mask_png(size, hole),
        references=(source_png((256, 256)),),
    )
    events = await run(request)
    result = decode(finals(events)[0].image).convert("RGB")
    assert result.size == size
    difference = ImageChops.difference(result, decode(source).convert("RGB"))
    changed = difference.getbbox()
    assert changed is not None, "the edit must be visible"
    left, top, right, bottom = changed  # getbbox's right/bottom are exclusive
    assert hole[0] <= left and hole[1] <= top and right <= hole[2] + 1 and bottom <= hole[3] + 1
    assert [e.index for e in events if isinstance(e, Partial)] == [0, 1]


async def test_edit_without_a_mask_may_change_everything():
    size = (864, 1536)
    source = source_png(size)
    events = await run(make_request(width=864, height=1536, image=source))
    result = decode(finals(events)[0].image).convert("RGB")
    changed = ImageChops.difference(result, decode(source).convert("RGB")).getbbox()
    assert changed is not None and changed[2] - changed[0] > size[0] * 0.9
