"""Faults: the engine, storage and live updates failing, and credits under concurrency."""

import threading

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.models import Team
from studio import credits, jobs
from studio.models import CreditEntry, Job, JobStatus, Version

from .pipeline import drain, submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def openai_settings(openai_settings, settings):
    settings.OPENAI_TIMEOUT = 1  # short, so the "timeout" fault trips it quickly
    return openai_settings


def balance(team) -> int:
    return Team.objects.get(pk=team.pk).credit_balance


def ledger_matches(team) -> bool:
    team = Team.objects.get(pk=team.pk)
    return credits.ledger_total(team) == team.credit_balance


FAULTS = [
    "rate_limit",
    "server_error",
    "unavailable",
    "malformed",
    "cut_stream",
    "stream_error",
    "timeout",
]


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_passing_fault_is_retried_to_success_and_charged_once(cast, openai_settings, fault):
    openai_settings.fail_next(fault, times=1)
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1-mini")
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert await Version.objects.filter(job=job).acount() == 1
    assert await sync_to_async(balance)(cast.team) == before - job.cost
    assert await sync_to_async(ledger_matches)(cast.team)


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_lasting_fault_fails_with_a_message_and_a_refund(cast, openai_settings, fault):
    openai_settings.fail_next(fault, times=10)
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1-mini")
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert job.error and "Traceback" not in job.error
    assert await sync_to_async(balance)(cast.team) == before
    assert await sync_to_async(ledger_matches)(cast.team)


async def test_connection_refused_fails_cleanly(cast, settings):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.OPENAI_MAX_ATTEMPTS = 2
    settings.OPENAI_MAX_BACKOFF = 0.01
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1-mini")
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED and job.error_code == "transient"
    assert await sync_to_async(balance)(cast.team) == before


async def test_storage_failure_fails_the_job_refunds_and_leaves_no_version(cast, monkeypatch):
    from django.core.files.storage import default_storage

    def broken_save(name, content, max_length=None):
        raise OSError("No space left on device")

    monkeypatch.setattr(default_storage, "save", broken_save)
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team)
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED and "refunded" in job.error
    assert not await Version.objects.filter(job=job).aexists()
    assert await sync_to_async(balance)(cast.team) == before


async def test_a_failed_thumbnail_takes_the_stored_original_with_it(cast, monkeypatch):
    """The original and the thumbnail are written side by side; when one fails, the other
    file is removed, so storage holds nothing no version points at."""
    from django.core.files.storage import default_storage

    stored = []
    save = default_storage.save

    def save_then_fail_thumbnail(name, content, max_length=None):
        if "/thumbs/" in name:
            raise OSError("No space left on device")
        stored.append(save(name, content, max_length=max_length))
        return stored[-1]

    monkeypatch.setattr(default_storage, "save", save_then_fail_thumbnail)
    job = await sync_to_async(submit)(cast.editor, cast.team)
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert stored and all("/originals/" in name for name in stored)
    assert not any([await sync_to_async(default_storage.exists)(name) for name in stored])


async def test_live_updates_down_jobs_still_finish(cast, monkeypatch):
    """With the channel layer unreachable (Redis down), work goes on; pages catch up later."""
    from studio import live

    class DownLayer:
        async def group_send(self, *args, **kwargs):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(live, "get_channel_layer", lambda: DownLayer())
    job = await sync_to_async(submit)(cast.editor, cast.team)
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED
    assert await Version.objects.filter(job=job).acount() == 1


@pytest.mark.postgres
def test_parallel_submits_never_overspend(cast):
    """50 submits at once against a balance that affords 20: exactly 20 jobs."""
    CreditEntry.objects.filter(team=cast.team).delete()
    Team.objects.filter(pk=cast.team.pk).update(credit_balance=0)
    credits.record_grant(cast.team, 20, "Exactly twenty")
    results, start = [], threading.Barrier(50)

    def one():
        start.wait()
        try:
            submit(cast.editor, cast.team)
            results.append("ok")
        except jobs.SubmitError as error:
            results.append(error.field)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 20
    assert results.count("credits") == 30
    assert balance(cast.team) == 0
    assert Job.objects.count() == 20
    holds = CreditEntry.objects.filter(team=cast.team, kind="hold")
    assert holds.count() == 20
    assert all(entry.balance_after >= 0 for entry in holds)
    assert ledger_matches(cast.team)
