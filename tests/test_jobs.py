"""Submitting and running jobs with the offline sketch engine: files, versions, credits."""

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage

from accounts.models import Team
from studio import credits, imaging, jobs
from studio.engines import PolicyRefusal, TransientError
from studio.models import Asset, CreditEntry, Job, JobStatus, Version

from .pipeline import drain, drain_with_worker, request, submit

pytestmark = pytest.mark.django_db(transaction=True)


def balance(team) -> int:
    return Team.objects.get(pk=team.pk).credit_balance


def test_submit_holds_credits_and_queues(cast):
    before = balance(cast.team)
    job = submit(cast.editor, cast.team, n=2)
    assert job.status == JobStatus.QUEUED
    assert job.cost == 2  # sketch: 1 credit per image
    assert balance(cast.team) == before - 2
    hold = CreditEntry.objects.get(job=job)
    assert hold.amount == -2 and hold.balance_after == before - 2
    assert job.prompt == "A red bicycle against a white wall. Golden hour from the left."


@pytest.mark.parametrize(
    "options, field",
    [
        ({"model": "no-such-model"}, "model"),
        ({"model": "gpt-image-1"}, "model"),  # retired, and no API key here anyway
        ({"aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"quality": "ultra"}, "quality"),
        ({"n": 0}, "n"),
        ({"n": 99}, "n"),
        ({"subject": ""}, "subject"),
        ({"subject": "x" * 40_000}, "subject"),
    ],
)
def test_bad_requests_are_refused_and_charge_nothing(cast, options, field):
    before = balance(cast.team)
    with pytest.raises(jobs.SubmitError) as refused:
        submit(cast.editor, cast.team, **options)
    assert refused.value.field == field
    assert refused.value.message
    assert balance(cast.team) == before
    assert not Job.objects.exists()


def test_viewer_and_outsider_cannot_generate(cast):
    for user in (cast.viewer, cast.outsider):
        with pytest.raises(jobs.SubmitError) as refused:
            submit(user, cast.team)
        assert refused.value.status == 403
    assert not Job.objects.exists()


def test_missing_credits_refused_with_clear_message(cast):
    Team.objects.filter(pk=cast.team.pk).update(credit_balance=1)
    with pytest.raises(jobs.SubmitError) as refused:
        submit(cast.editor, cast.team, n=3)
    assert refused.value.field == "credits"
    assert "needs 3 credits" in refused.value.message and "has 1" in refused.value.message
    assert balance(cast.team) == 1
    assert not Job.objects.exists()


def test_idempotency_key_replays_and_refuses_a_different_body(cast):
    first = submit(cast.editor, cast.team, idempotency_key="abc")
    again = submit(cast.editor, cast.team, idempotency_key="abc")
    assert again.pk == first.pk
    assert Job.objects.count() == 1
    with pytest.raises(jobs.SubmitError) as refused:
        submit(cast.editor, cast.team, idempotency_key="abc", subject="Something else")
    assert refused.value.status == 409


async def test_run_stores_versions_files_and_thumbnails(cast):
    job = await sync_to_async(submit)(cast.editor, cast.team, n=2, aspect_ratio="16:9")
    assert await drain() == 1
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED and job.progress == 1.0
    versions = [v async for v in Version.objects.filter(job=job).order_by("slot")]
    assert [v.slot for v in versions] == [0, 1]
    assert await Asset.objects.filter(team=cast.team).acount() == 2  # one creative line each
    for version in versions:
        assert (version.width, version.height) == (1536, 864)
        assert version.seed == job.seed + version.slot
        with default_storage.open(version.image.name) as handle:
            original = handle.read()
        assert imaging.sha256_hex(original) == version.checksum
        assert imaging.image_size(original) == (1536, 864)
        metadata = imaging.read_png_metadata(original)
        assert '"subject": "A red bicycle against a white wall"' in metadata["studio:brief"]
        with default_storage.open(version.thumbnail.name) as handle:
            assert max(imaging.image_size(handle.read(), formats=("WEBP",))) <= 512
    asset = await Asset.objects.aget(pk=versions[0].asset_id)
    assert asset.current_version_id == versions[0].pk


async def test_worker_runs_many_jobs_concurrently(cast):
    for _ in range(5):
        await sync_to_async(submit)(cast.editor, cast.team)
    await drain_with_worker(concurrency=4)
    assert await Job.objects.filter(status=JobStatus.SUCCEEDED).acount() == 5
    assert await Version.objects.acount() == 5


class BrokenEngine:
    name = "broken"

    def __init__(self, error, after_slots=0):
        self.error, self.after_slots = error, after_slots

    async def run(self, request):
        from studio.engines.sketch import SketchEngine

        finished = 0
        if self.after_slots == 0:
            raise self.error
        async for event in SketchEngine().run(request):
            yield event
            if type(event).__name__ == "Finished":
                finished += 1
                if finished >= self.after_slots:
                    break
        raise self.error


@pytest.fixture
def broken_engine(monkeypatch):
    def install(error, after_slots=0):
        monkeypatch.setattr(jobs, "engine_for", lambda spec: BrokenEngine(error, after_slots))

    return install


async def test_policy_refusal_fails_job_with_message_and_full_refund(cast, broken_engine):
    broken_engine(PolicyRefusal("The service refused this brief under its content policy."))
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, n=2)
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert "content policy" in job.error and job.error_code == "policy_refusal"
    assert await sync_to_async(balance)(cast.team) == before
    team = await Team.objects.aget(pk=cast.team.pk)
    assert await sync_to_async(credits.ledger_total)(team) == team.credit_balance


async def test_partial_failure_refunds_only_what_was_not_delivered(cast, broken_engine):
    broken_engine(TransientError("The image service is busy."), after_slots=1)
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, n=3)
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert await Version.objects.filter(job=job).acount() == 1
    assert await sync_to_async(balance)(cast.team) == before - 1  # one image delivered


async def test_unexpected_crash_fails_cleanly_and_refunds(cast, broken_engine):
    broken_engine(ZeroDivisionError("bug"))
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team)
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED and "refunded" in job.error
    assert await sync_to_async(balance)(cast.team) == before


def test_refund_happens_once_even_if_called_twice(cast):
    job = submit(cast.editor, cast.team, n=2)
    credits.refund(job)
    credits.refund(job)
    assert CreditEntry.objects.filter(job=job, kind="refund").count() == 1
    assert credits.ledger_total(Team.objects.get(pk=cast.team.pk)) == balance(cast.team)


def test_request_fingerprint_ignores_nothing_that_matters():
    assert request().fingerprint() == request().fingerprint()
    assert request().fingerprint() != request(quality="high").fingerprint()
