"""Benchmark b: progress latency, worker event -> WebSocket client (PostgreSQL + Redis).

This process plays the worker: it publishes a `job.progress` event exactly as a running
job does (`live.publish` through the channels-redis layer) and, holding a WebSocket to a
`manage.py serve` process like a browser, times the rendered fragment's arrival: one
clock, no cross-process timestamps.

Baseline, same run: the same round trip with nothing of the studio in it: PUBLISH on a
raw Redis pub/sub channel, relayed by a bare aiohttp WebSocket server (bench.relay).
Samples alternate between the two, one at a time, so both see the same machine.
"""

import asyncio
import time
import uuid

from websockets.asyncio.client import connect

from .common import (
    bench_redis_url,
    browser_headers,
    emit,
    job_event,
    log,
    make_member,
    median,
    ms,
    p95,
    processes,
    section_env,
    setup_django,
    start_relay,
    start_web,
)

SAMPLES = 300
WARMUP = 20


def progress_payload(job_id: str, marker: str) -> dict:
    from studio import events

    return job_event(events.JOB_PROGRESS, job_id, message=marker)


async def measure(studio_port: int, relay_port: int, gallery_id, session: str) -> dict:
    import redis.asyncio as redis

    from studio import live

    job_id = str(uuid.uuid4())
    raw = redis.Redis.from_url(bench_redis_url())
    studio_times, raw_times = [], []
    async with (
        connect(
            f"ws://127.0.0.1:{studio_port}/ws/galleries/{gallery_id}/",
            additional_headers=browser_headers(session),
            origin="http://localhost",
            ping_interval=None,
        ) as studio_socket,
        connect(f"ws://127.0.0.1:{relay_port}/ws", ping_interval=None) as relay_socket,
    ):
        await asyncio.sleep(0.2)  # the consumer joins its group right after accepting
        for index in range(WARMUP + SAMPLES):
            marker = f"bench-{index}"
            t0 = time.perf_counter()
            await live.publish(gallery_id, progress_payload(job_id, marker))
            while f"{marker} ·" not in await asyncio.wait_for(studio_socket.recv(), 10):
                pass
            studio = time.perf_counter() - t0

            t0 = time.perf_counter()
            await raw.publish("bench.raw", marker)
            while await asyncio.wait_for(relay_socket.recv(), 10) != marker:
                pass
            plain = time.perf_counter() - t0
            if index >= WARMUP:
                studio_times.append(studio)
                raw_times.append(plain)
    await raw.aclose()
    return {"studio": studio_times, "raw": raw_times}


def main() -> None:
    setup_django()
    _, _, gallery, session = make_member("progress")
    env = section_env("scale")
    with processes() as started:
        studio_port, _ = start_web(started, "b", env)
        relay_port = start_relay(started, "b-relay", env, bench_redis_url())
        log(f"  b: {SAMPLES} progress events, each against a raw pub/sub round trip")
        times = asyncio.run(measure(studio_port, relay_port, gallery.pk, session))
    studio, raw = times["studio"], times["raw"]
    emit(
        {
            "samples": len(studio),
            "studio_median_ms": ms(median(studio)),
            "studio_p95_ms": ms(p95(studio)),
            "raw_median_ms": ms(median(raw)),
            "raw_p95_ms": ms(p95(raw)),
            "difference_median_ms": ms(median(studio) - median(raw)),
            "difference_p95_ms": ms(p95(studio) - p95(raw)),
        }
    )


if __name__ == "__main__":
    main()
