"""An engine of fixed, known latency: what the overhead benchmarks put around the studio.

It reports progress, waits exactly `latency` seconds, and returns a photo-like PNG of the
requested size (about 2 MB at 1024x1024, like a real API result), prepared before any
timing starts. Everything else a job does is studio overhead.
"""

import asyncio
import os

from studio.engines import EngineRequest, Finished, Progress

from .common import photo_like, png_bytes


class FixedLatencyEngine:
    name = "fixed"

    def __init__(self, latency: float):
        self.latency = latency
        self._images: dict[tuple[int, int], bytes] = {}

    def image(self, width: int, height: int) -> bytes:
        if (width, height) not in self._images:
            self._images[(width, height)] = png_bytes(photo_like(width, height))
        return self._images[(width, height)]

    async def run(self, request: EngineRequest):
        image = self.image(request.width, request.height)
        for slot in range(request.n):
            yield Progress(slot=slot, fraction=0.0, message="Started")
            await asyncio.sleep(self.latency)
            yield Progress(slot=slot, fraction=1.0, message="Drawn")
            yield Finished(slot=slot, image=image, width=request.width, height=request.height)


def install_from_environment() -> None:
    """With BENCH_ENGINE_LATENCY set, the sketch model runs on the fixed-latency engine."""
    latency = os.environ.get("BENCH_ENGINE_LATENCY")
    if not latency:
        return
    from studio.engines import factory

    engine = FixedLatencyEngine(float(latency))
    engine.image(1024, 1024)  # before the first job, not during it
    original = factory.build

    def build(name: str):
        return engine if name == "sketch" else original(name)

    factory.build = build
