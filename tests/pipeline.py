"""Helpers for pipeline tests: submit as a user, run the queue to the end."""

from asgiref.sync import sync_to_async

from studio import jobs
from studio.briefs import Brief
from studio.models import Gallery
from studio.worker import Worker, claim


def request(subject="A red bicycle against a white wall", **options) -> jobs.JobRequest:
    brief = Brief(subject, lighting=options.pop("lighting", "Golden hour from the left"))
    options.setdefault("model", "sketch")
    return jobs.JobRequest(brief=brief, **options)


def submit(user, team, **options):
    return jobs.submit(user, Gallery.default_for(team), request(**options))


async def drain() -> int:
    """Run every queued job to the end, as a worker would; returns how many ran."""
    ran = 0
    while True:
        job_id = await sync_to_async(claim)("test-worker")
        if job_id is None:
            return ran
        await jobs.run(job_id)
        ran += 1


def wait_until_finished(job, timeout=30.0):
    """Wait for a job some worker runs (e.g. the live server's) to finish; fail at the deadline."""
    from studio.models import Job

    from .cluster import eventually

    def finished():
        status = Job.objects.values_list("status", flat=True).get(pk=job.pk)
        return status if status in ("succeeded", "failed") else None

    return eventually(finished, timeout, f"Job {job.pk} did not finish")


async def drain_with_worker(concurrency=8) -> None:
    worker = Worker(name="test-worker", concurrency=concurrency)
    await worker.fill()
    while worker.running:
        import asyncio

        await asyncio.gather(*list(worker.running.values()))
        await worker.fill()


def off_the_loop(function, *args, **kwargs):
    """Run Django work in a thread of its own, away from Playwright's event loop, and give
    that thread's database connection back afterwards (to PostgreSQL's pool: a thread that
    ends holding a pooled connection keeps it from everyone else)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def run():
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()
