"""Workers: leases, recovery after a worker dies, graceful hand-back."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.models import Team
from studio import credits
from studio.models import CreditEntry, Job, JobStatus, Version
from studio.worker import Worker, claim, claim_many, recover_abandoned, release, renew

from .pipeline import drain, submit

pytestmark = pytest.mark.django_db(transaction=True)


def test_claim_takes_oldest_queued_job_once(cast):
    first = submit(cast.editor, cast.team)
    second = submit(cast.editor, cast.team)
    assert claim("a") == str(first.pk)
    assert claim("b") == str(second.pk)
    assert claim("c") is None
    job = Job.objects.get(pk=first.pk)
    assert job.status == JobStatus.RUNNING and job.worker == "a" and job.attempts == 1
    assert job.lease_expires_at > timezone.now()


def test_claim_many_takes_up_to_its_room_oldest_first(cast):
    queued = [submit(cast.editor, cast.team) for _ in range(3)]
    assert claim_many("a", 2) == [str(job.pk) for job in queued[:2]]
    assert claim_many("b", 5) == [str(queued[2].pk)]
    assert claim_many("c", 5) == []
    assert Job.objects.filter(status=JobStatus.RUNNING, attempts=1).count() == 3


async def test_a_worker_fills_only_its_concurrency(cast):
    for _ in range(3):
        await sync_to_async(submit)(cast.editor, cast.team)
    worker = Worker(name="small", concurrency=2)
    assert await worker.fill() == 2
    assert await Job.objects.filter(status=JobStatus.QUEUED).acount() == 1
    await worker.stop(timeout=30)
    assert not worker.running


def test_lease_renewal_only_touches_own_jobs(cast):
    job = submit(cast.editor, cast.team)
    claim("a")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())
    renew([str(job.pk)], "b")
    assert Job.objects.get(pk=job.pk).lease_expires_at <= timezone.now()
    renew([str(job.pk)], "a")
    assert Job.objects.get(pk=job.pk).lease_expires_at > timezone.now()


async def test_job_of_a_dead_worker_is_finished_by_another_and_charged_once(cast):
    job = await sync_to_async(submit)(cast.editor, cast.team, n=2)
    await sync_to_async(claim)("dead-worker")
    # The worker dies: its lease lapses without renewal.
    await Job.objects.filter(pk=job.pk).aupdate(lease_expires_at=timezone.now() - timedelta(1))
    assert await sync_to_async(recover_abandoned)() == []
    assert (await Job.objects.aget(pk=job.pk)).status == JobStatus.QUEUED
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert await Version.objects.filter(job=job).acount() == 2
    assert await CreditEntry.objects.filter(job=job).acount() == 1  # one hold, no refund
    team = await Team.objects.aget(pk=cast.team.pk)
    assert await sync_to_async(credits.ledger_total)(team) == team.credit_balance


async def test_retry_after_a_crash_keeps_stored_slots_and_adds_only_missing(cast):
    job = await sync_to_async(submit)(cast.editor, cast.team, n=2)
    await drain()
    first_versions = {v.pk async for v in Version.objects.filter(job=job)}
    # As if the worker had died after storing both images but before marking success.
    await Job.objects.filter(pk=job.pk).aupdate(status=JobStatus.QUEUED)
    await drain()
    assert {v.pk async for v in Version.objects.filter(job=job)} == first_versions


def test_job_out_of_attempts_fails_and_is_refunded(cast, settings):
    settings.STUDIO_JOB_MAX_ATTEMPTS = 1
    before = Team.objects.get(pk=cast.team.pk).credit_balance
    job = submit(cast.editor, cast.team)
    claim("dead-worker")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    failed = recover_abandoned()
    assert [j.pk for j in failed] == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "interrupted" in job.error
    assert Team.objects.get(pk=cast.team.pk).credit_balance == before


def test_release_hands_jobs_back(cast):
    job = submit(cast.editor, cast.team)
    claim("stopping")
    release([str(job.pk)], "stopping")
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.worker == ""
