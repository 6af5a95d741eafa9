"""Benchmark a: the studio's overhead around an engine of fixed latency.

One designer's browser watches a gallery over a WebSocket; the same browser submits the
brief form (htmx POST). Total = POST sent -> the finished version's card arrives on the
socket. Overhead = total - the engine's fixed latency. Jobs run one after another.

  embedded: `manage.py serve` with the in-process worker, SQLite, in-memory channel layer.
  scale:    `manage.py serve` + a separate `manage.py worker`, PostgreSQL, Redis.
  floor:    the physical baseline: an HTTP POST turned into a WebSocket push by a bare
            aiohttp server (bench.relay), nothing else.
"""

import argparse
import asyncio
import re
import time

import aiohttp
from websockets.asyncio.client import connect

from .common import (
    Process,
    emit,
    form_headers,
    job_form,
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

JOB_ID = re.compile(r'id="job-([0-9a-f-]{36})"')


def start_studio(config: str, latency: float, started: list[Process]) -> int:
    env = section_env(config, BENCH_ENGINE_LATENCY=str(latency))
    if config == "embedded":
        env["STUDIO_INPROCESS_WORKER"] = "true"
    port, _ = start_web(started, f"a-{config}", env, worker=config == "scale")
    return port


async def one_job(http, socket, url, headers, form) -> dict:
    t0 = time.perf_counter()
    async with http.post(url, data=form, headers=headers) as response:
        body = await response.text()
        assert response.status == 200 and "Queued" in body, (response.status, body[:300])
    t_response = time.perf_counter()
    job_id = None
    t_queued = t_card = None
    while True:
        message = await asyncio.wait_for(socket.recv(), timeout=30)
        now = time.perf_counter()
        if job_id is None:
            found = JOB_ID.search(message)
            if found:
                job_id, t_queued = found.group(1), now
        if t_card is None and 'class="asset-card"' in message:
            t_card = now
        if job_id and f'id="job-{job_id}" hx-swap-oob="delete"' in message:
            break
        if job_id and f"job-{job_id}" in message and "status-failed" in message:
            raise RuntimeError(f"job failed: {message[:500]}")
    return {
        "total": t_card - t0,
        "response": t_response - t0,
        "queued_on_socket": t_queued - t0,
        "succeeded_on_socket": now - t0,
    }


async def measure(port: int, gallery_id, session: str, samples: int, warmup: int) -> list[dict]:
    base = f"http://127.0.0.1:{port}"
    headers = form_headers(session)
    results = []
    async with (
        aiohttp.ClientSession() as http,
        connect(
            f"ws://127.0.0.1:{port}/ws/galleries/{gallery_id}/",
            additional_headers={"Cookie": headers["Cookie"]},
            origin="http://localhost",
            ping_interval=None,
        ) as socket,
    ):
        url = f"{base}/galleries/{gallery_id}/jobs/"
        for index in range(warmup + samples):
            result = await one_job(http, socket, url, headers, job_form())
            if index >= warmup:
                results.append(result)
    return results


async def measure_floor(port: int, samples: int) -> list[float]:
    times = []
    async with (
        aiohttp.ClientSession() as http,
        connect(f"ws://127.0.0.1:{port}/ws", ping_interval=None) as socket,
    ):
        for index in range(samples + 10):
            t0 = time.perf_counter()
            async with http.post(f"http://127.0.0.1:{port}/push", data=f"push-{index}") as r:
                await r.read()
            while await socket.recv() != f"push-{index}":
                pass
            if index >= 10:
                times.append(time.perf_counter() - t0)
    return times


def breakdown(gallery, latency: float, count: int) -> dict:
    """Server-side split of the last `count` jobs, from the job rows' own timestamps."""
    from studio.models import Job

    rows = list(
        Job.objects.filter(gallery=gallery)
        .order_by("-created_at")
        .values("created_at", "started_at", "finished_at")[:count]
    )
    waits = [(r["started_at"] - r["created_at"]).total_seconds() for r in rows]
    runs = [(r["finished_at"] - r["started_at"]).total_seconds() - latency for r in rows]
    return {
        "claim_wait_median_ms": ms(median(waits)),
        "run_overhead_median_ms": ms(median(runs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", choices=["embedded", "scale", "floor"], required=True)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.25)
    options = parser.parse_args()

    if options.config == "floor":
        with processes() as started:
            port = start_relay(started, "a-floor-relay", section_env("embedded"))
            times = asyncio.run(measure_floor(port, 200))
        emit({"median_ms": ms(median(times)), "p95_ms": ms(p95(times)), "samples": len(times)})
        return

    setup_django()
    _, _, gallery, session = make_member(f"overhead-{options.config}")
    with processes() as started:
        port = start_studio(options.config, options.latency, started)
        log(f"  a/{options.config}: {options.samples} jobs at {options.latency}s engine latency")
        results = asyncio.run(measure(port, gallery.pk, session, options.samples, warmup=3))
    overhead = [r["total"] - options.latency for r in results]
    emit(
        {
            **breakdown(gallery, options.latency, len(results)),
            "engine_latency_ms": ms(options.latency),
            "samples": len(results),
            "overhead_median_ms": ms(median(overhead)),
            "overhead_p95_ms": ms(p95(overhead)),
            "total_median_ms": ms(median(r["total"] for r in results)),
            "post_response_median_ms": ms(median(r["response"] for r in results)),
            "queued_card_median_ms": ms(median(r["queued_on_socket"] for r in results)),
            "succeeded_median_ms": ms(median(r["succeeded_on_socket"] for r in results)),
        }
    )


if __name__ == "__main__":
    main()
