"""Benchmark f: 500 browsers watching one gallery; how long until all see a job finish.

Real sockets against a real `manage.py serve` (Daphne) process; the 500 clients live in
this process and share one signed-in session.

  scale:     the event is published the way a worker publishes it (live.publish through
             channels-redis) from this process; time until all 500 have the rendered
             fragment. Baseline, same run: 500 clients of the bare relay (bench.relay)
             and one raw Redis PUBLISH.
  embedded:  in-memory channel layer, so the event must come from inside the server: a
             real job on the in-process worker (fixed 0.25 s engine). Time from the form
             POST until all 500 have the finished job, minus the engine's latency.
             Baseline, same run: the same with 1 client watching.
"""

import argparse
import asyncio
import time
import uuid

import aiohttp
from websockets.asyncio.client import connect

from .common import (
    bench_redis_url,
    browser_headers,
    emit,
    form_headers,
    job_event,
    job_form,
    log,
    make_member,
    median,
    ms,
    processes,
    rss_kb,
    section_env,
    setup_django,
    start_relay,
    start_web,
)

CLIENTS = 500
ROUNDS = 5
LATENCY = 0.25


class Audience:
    """Many sockets; `wait_for(marker)` returns when every one has received it."""

    def __init__(self, url: str, headers: dict | None = None):
        self.url, self.headers = url, headers or {}
        self.sockets = []
        self.readers = []
        self.marker = None
        self.seen = 0
        self.done = asyncio.Event()

    async def open(self, count: int) -> None:
        for start in range(0, count, 50):
            batch = await asyncio.gather(
                *(
                    connect(
                        self.url,
                        additional_headers=self.headers,
                        origin="http://localhost",
                        ping_interval=None,
                        open_timeout=60,
                    )
                    for _ in range(start, min(count, start + 50))
                )
            )
            self.sockets += batch
        self.readers = [asyncio.create_task(self._read(socket)) for socket in self.sockets]

    async def _read(self, socket) -> None:
        async for message in socket:
            if self.marker is not None and self.marker in message:
                self.seen += 1
                if self.seen == len(self.sockets):
                    self.done.set()

    def expect(self, marker: str) -> None:
        self.marker, self.seen = marker, 0
        self.done.clear()

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*(socket.close() for socket in self.sockets), return_exceptions=True)


def succeeded_payload(job_id: str) -> dict:
    from studio import events

    return job_event(
        events.JOB_SUCCEEDED,
        job_id,
        status="succeeded",
        status_label="Finished",
        progress=1.0,
        message="Done",
    )


async def scale_rounds(studio_port, relay_port, gallery_id, session, web_pid) -> dict:
    import redis.asyncio as redis

    from studio import live

    studio = Audience(
        f"ws://127.0.0.1:{studio_port}/ws/galleries/{gallery_id}/", browser_headers(session)
    )
    relay = Audience(f"ws://127.0.0.1:{relay_port}/ws")
    t0 = time.perf_counter()
    await studio.open(CLIENTS)
    connect_seconds = time.perf_counter() - t0
    await relay.open(CLIENTS)
    await asyncio.sleep(0.5)
    raw = redis.Redis.from_url(bench_redis_url())
    studio_times, relay_times = [], []
    for _ in range(ROUNDS + 1):
        job_id = str(uuid.uuid4())
        studio.expect(f'id="job-{job_id}"')
        t0 = time.perf_counter()
        await live.publish(gallery_id, succeeded_payload(job_id))
        await asyncio.wait_for(studio.done.wait(), 60)
        studio_times.append(time.perf_counter() - t0)

        relay.expect(job_id)
        t0 = time.perf_counter()
        await raw.publish("bench.raw", job_id)
        await asyncio.wait_for(relay.done.wait(), 60)
        relay_times.append(time.perf_counter() - t0)
    web_rss = rss_kb(web_pid)
    await raw.aclose()
    await studio.close()
    await relay.close()
    return {
        "clients": CLIENTS,
        "connect_all_s": round(connect_seconds, 2),
        "studio_median_ms": ms(median(studio_times[1:])),
        "studio_max_ms": ms(max(studio_times[1:])),
        "baseline_median_ms": ms(median(relay_times[1:])),
        "baseline": "bare relay, raw Redis pub/sub, 500 clients",
        "web_rss_mb": round(web_rss / 1024, 1),
    }


async def embedded_rounds(port, gallery_id, session, web_pid) -> dict:
    url = f"ws://127.0.0.1:{port}/ws/galleries/{gallery_id}/"
    headers = form_headers(session)
    post_url = f"http://127.0.0.1:{port}/galleries/{gallery_id}/jobs/"

    async def rounds(audience: Audience) -> list[float]:
        times = []
        async with aiohttp.ClientSession() as http:
            for _ in range(ROUNDS + 1):
                audience.expect('hx-swap-oob="delete"')
                t0 = time.perf_counter()
                async with http.post(post_url, data=job_form(), headers=headers) as response:
                    assert response.status == 200, response.status
                await asyncio.wait_for(audience.done.wait(), 60)
                times.append(time.perf_counter() - t0 - LATENCY)
                await asyncio.sleep(0.2)  # let the last fragments drain
        return times[1:]

    one = Audience(url, browser_headers(session))
    await one.open(1)
    single = await rounds(one)
    await one.close()
    many = Audience(url, browser_headers(session))
    t0 = time.perf_counter()
    await many.open(CLIENTS)
    connect_seconds = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    crowd = await rounds(many)
    web_rss = rss_kb(web_pid)
    await many.close()
    return {
        "clients": CLIENTS,
        "connect_all_s": round(connect_seconds, 2),
        "studio_median_ms": ms(median(crowd)),
        "studio_max_ms": ms(max(crowd)),
        "baseline_median_ms": ms(median(single)),
        "baseline": "the same job watched by 1 client",
        "web_rss_mb": round(web_rss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.parse_args()
    setup_django()
    from django.conf import settings

    config = "scale" if settings.REDIS_URL else "embedded"
    _, _, gallery, session = make_member(f"fanout-{config}")
    with processes() as started:
        env = section_env(config, BENCH_ENGINE_LATENCY=str(LATENCY))
        if config == "embedded":
            env["STUDIO_INPROCESS_WORKER"] = "true"
        port, web = start_web(started, f"f-{config}", env)
        log(f"  f/{config}: {CLIENTS} sockets on one gallery")
        if config == "scale":
            relay_port = start_relay(started, "f-relay", env, bench_redis_url())
            result = asyncio.run(scale_rounds(port, relay_port, gallery.pk, session, web.pid))
        else:
            result = asyncio.run(embedded_rounds(port, gallery.pk, session, web.pid))
    emit({"config": config, **result})


if __name__ == "__main__":
    main()
