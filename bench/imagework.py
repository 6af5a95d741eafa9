"""Benchmark e: the studio's image work per generated image, against bare Pillow.

Studio: `versions.prepare_and_upload`, what the worker awaits (decode and check the
engine's PNG, crop if the ratio needs it, embed the brief in the file, SHA-256, a 512 px
WebP thumbnail, both files to local storage; an uncropped PNG's original is written while
another thread draws the thumbnail). Baseline, same image, same run: Pillow decodes the PNG and
encodes it again as PNG, nothing else: the least any pipeline that re-encodes would do.

Images, 1024x1024 PNG: "photo", noise over gradients, about 2.5 MB like a real API result;
"sketch", what the offline sketch engine draws (flat shapes, about 350 KB). "photo 16:9":
a 1536x1024 photo cropped to 1536x864, as for a 16:9 job on a model without that size;
cropped pixels must be compressed again.
"""

import asyncio
import io
import time

from .common import (
    BRIEF,
    emit,
    log,
    make_member,
    median,
    ms,
    photo_like,
    png_bytes,
    setup_django,
)

REPEAT = 9


def sketch_png() -> bytes:
    from studio.engines import EngineRequest, Finished
    from studio.engines.sketch import SketchEngine

    async def draw():
        request = EngineRequest(
            model="sketch",
            prompt=BRIEF["subject"],
            width=1024,
            height=1024,
            quality="medium",
            brief=BRIEF,
        )
        async for event in SketchEngine().run(request):
            if isinstance(event, Finished):
                return event.image

    return asyncio.run(draw())


def bare(data: bytes) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        image.save(io.BytesIO(), "PNG")


def measure(job, data: bytes, final_size) -> dict:
    """studio: what the worker awaits (versions.prepare_and_upload, both files written);
    prepare: the same image work done in one thread, without storage."""
    from studio import versions

    loop = asyncio.new_event_loop()
    studio, prepare, baseline = [], [], []
    try:
        for attempt in range(REPEAT + 1):
            t0 = time.perf_counter()
            _, names = loop.run_until_complete(versions.prepare_and_upload(job, data, final_size))
            t1 = time.perf_counter()
            versions.prepare(job, data, final_size)
            t2 = time.perf_counter()
            bare(data)
            t3 = time.perf_counter()
            versions.discard(*names)
            if attempt:
                studio.append(t1 - t0)
                prepare.append(t2 - t1)
                baseline.append(t3 - t2)
    finally:
        loop.close()
    return {
        "png_kb": round(len(data) / 1024),
        "studio_ms": ms(median(studio)),
        "prepare_ms": ms(median(prepare)),
        "pillow_ms": ms(median(baseline)),
        "ratio": round(median(studio) / median(baseline), 2),
    }


def main() -> None:
    setup_django()
    from studio.models import Job

    user, team, gallery, _ = make_member("imagework")
    job = Job(
        team=team,
        gallery=gallery,
        brief=dict(BRIEF),
        prompt="A ceramic teapot with a chipped spout, close-up, soft morning light",
        model="sketch",
    )
    photo = png_bytes(photo_like())
    results = {}
    for name, data, size in (
        ("photo", photo, (1024, 1024)),
        ("sketch", sketch_png(), (1024, 1024)),
        ("photo 16:9", png_bytes(photo_like(1536, 1024)), (1536, 864)),
    ):
        log(f"  e: {name}")
        results[name] = measure(job, data, size)
    emit({"images": results})


if __name__ == "__main__":
    main()
