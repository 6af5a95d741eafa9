"""The job worker: claims queued jobs from the database and runs many at once on asyncio.

Engine calls wait on the network, so one process keeps `concurrency` jobs in flight.
Each claim is a lease the worker renews while it runs the job; a job whose lease
lapses (its worker died) is handed to another worker, or failed and refunded once its
attempts are used up. Workers are woken through the channel layer and also poll.
"""

import asyncio
import contextlib
import logging
import os
import socket
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import jobs, live
from .models import Job, JobStatus

logger = logging.getLogger(__name__)


def claim(worker_name: str) -> str | None:
    """Take the oldest queued job; on PostgreSQL, rows other workers hold are skipped."""
    claimed = claim_many(worker_name, 1)
    return claimed[0] if claimed else None


def claim_many(worker_name: str, limit: int) -> list[str]:
    """Take up to `limit` queued jobs, oldest first, in one transaction: a worker with
    room for many asks once, instead of once per job plus once to find the queue empty."""
    with transaction.atomic():
        queued = Job.objects.filter(status=JobStatus.QUEUED).order_by("created_at")
        if connection.vendor == "postgresql":
            queued = queued.select_for_update(skip_locked=True)
        picked = list(queued.values_list("pk", flat=True)[:limit])
        if not picked:
            return []
        now = timezone.now()
        Job.objects.filter(pk__in=picked).update(
            status=JobStatus.RUNNING,
            worker=worker_name,
            attempts=F("attempts") + 1,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=settings.STUDIO_JOB_LEASE_SECONDS),
            message="Starting",
        )
        return [str(pk) for pk in picked]


def renew(job_ids: list[str], worker_name: str) -> None:
    expires = timezone.now() + timedelta(seconds=settings.STUDIO_JOB_LEASE_SECONDS)
    Job.objects.filter(pk__in=job_ids, worker=worker_name, status=JobStatus.RUNNING).update(
        lease_expires_at=expires
    )


def recover_abandoned() -> list[Job]:
    """Requeue jobs whose worker stopped renewing; fail (and return) those out of attempts."""
    failed = []
    with transaction.atomic():
        lapsed = Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=timezone.now())
        if connection.vendor == "postgresql":
            lapsed = lapsed.select_for_update(skip_locked=True)
        for job in lapsed:
            if job.attempts < settings.STUDIO_JOB_MAX_ATTEMPTS:
                Job.objects.filter(pk=job.pk).update(
                    status=JobStatus.QUEUED,
                    worker="",
                    lease_expires_at=None,
                    message="Retrying after a worker stopped",
                )
            else:
                failed.append(job.pk)
    return [
        jobs._fail(
            pk, None, "The job was interrupted too many times; credits refunded.", "abandoned"
        )
        for pk in failed
    ]


def release(job_ids: list[str], worker_name: str) -> None:
    """Hand unfinished jobs back to the queue (graceful shutdown)."""
    Job.objects.filter(pk__in=job_ids, worker=worker_name, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED, worker="", lease_expires_at=None, message="Waiting for a worker"
    )


class Worker:
    def __init__(
        self, name: str | None = None, concurrency: int | None = None, poll_seconds: float = 2.0
    ):
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.concurrency = concurrency or settings.STUDIO_WORKER_CONCURRENCY
        self.poll_seconds = poll_seconds
        self.running: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._wake_channel: str | None = None
        self._stopping = False

    async def run_forever(self) -> None:
        listener = asyncio.create_task(self._listen())
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not self._stopping:
                await self.fill()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        finally:
            listener.cancel()
            heartbeat.cancel()

    async def fill(self) -> int:
        """Claim jobs until the worker is full or the queue is empty."""
        started = 0
        while (room := self.concurrency - len(self.running)) > 0 and not self._stopping:
            job_ids = await database_sync_to_async(claim_many)(self.name, room)
            for job_id in job_ids:
                self.running[job_id] = asyncio.create_task(self._run(job_id))
            started += len(job_ids)
            if len(job_ids) < room:
                break  # the queue is empty
        return started

    async def _run(self, job_id: str) -> None:
        try:
            await jobs.run(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Job %s could not be run", job_id)
        finally:
            self.running.pop(job_id, None)
            self._wake.set()  # room for another job

    async def _listen(self) -> None:
        """Be woken through the channel layer. While it is unreachable (Redis down) the
        worker still polls the database; it listens again once the layer is back."""
        layer = get_channel_layer()
        retry_in = self.poll_seconds
        while True:
            try:
                channel = await layer.new_channel()
                self._wake_channel = channel
                await layer.group_add(live.WORKERS_GROUP, channel)
                while True:
                    await layer.receive(channel)
                    retry_in = self.poll_seconds
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "Worker wake-ups unavailable; polling every %ss, listening again in %ss",
                    self.poll_seconds,
                    retry_in,
                )
            await asyncio.sleep(retry_in)
            retry_in = min(retry_in * 2, 30)

    async def _heartbeat(self) -> None:
        interval = max(settings.STUDIO_JOB_LEASE_SECONDS / 3, 0.5)
        while True:
            await asyncio.sleep(interval)
            try:
                if self._wake_channel:
                    # A restarted Redis forgets its groups; joining again is harmless.
                    with contextlib.suppress(Exception):
                        await get_channel_layer().group_add(live.WORKERS_GROUP, self._wake_channel)
                if self.running:
                    await database_sync_to_async(renew)(list(self.running), self.name)
                for job in await database_sync_to_async(recover_abandoned)():
                    await live.publish(job.gallery_id, jobs.failed_payload(job))
                if await database_sync_to_async(
                    Job.objects.filter(status=JobStatus.QUEUED).exists
                )():
                    self._wake.set()
            except Exception:
                logger.exception("Worker heartbeat failed; will retry")

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; let running jobs finish for `timeout`, then hand the rest back."""
        self._stopping = True
        self._wake.set()
        if self.running:
            done, pending = await asyncio.wait(list(self.running.values()), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await database_sync_to_async(release)(list(self.running), self.name)
