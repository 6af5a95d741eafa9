"""The studio on the openai engine, against the fake OpenAI server through the real SDK."""

import pytest
from asgiref.sync import sync_to_async

from accounts.models import Team
from studio import credits, lineup
from studio.models import Job, JobStatus, ModelOutage, Version

from .pipeline import drain, submit

pytestmark = pytest.mark.django_db(transaction=True)


def balance(team):
    return Team.objects.get(pk=team.pk).credit_balance


async def test_mini_makes_16_9_by_cropping_a_native_size(cast, openai_settings):
    fake = openai_settings
    job = await sync_to_async(submit)(
        cast.editor, cast.team, model="gpt-image-1-mini", aspect_ratio="16:9", quality="low"
    )
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    sent = fake.requests[-1]
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json["model"] == "gpt-image-1-mini"
    assert sent.json["size"] == "1536x1024"
    assert sent.json["quality"] == "low"
    assert sent.json["n"] == 1
    assert sent.json["stream"] is True
    assert sent.json["prompt"] == job.prompt
    version = await Version.objects.aget(job=job)
    assert (version.requested_width, version.requested_height) == (1536, 1024)
    assert (version.width, version.height) == (1536, 864)


async def test_gpt_image_2_makes_16_9_natively(cast, openai_settings):
    job = await sync_to_async(submit)(
        cast.editor, cast.team, model="gpt-image-2", aspect_ratio="16:9", quality="low"
    )
    await drain()
    assert openai_settings.requests[-1].json["size"] == "1536x864"
    version = await Version.objects.aget(job=job)
    assert (version.width, version.height) == (version.requested_width, version.requested_height)


@pytest.mark.parametrize(
    "fault, code, words",
    [
        ("moderation", "policy_refusal", "content policy"),
        ("quota", "quota_exhausted", "billing"),
        ("auth", "authentication_failed", "key"),
    ],
)
async def test_refusals_fail_at_once_with_message_and_refund(
    cast, openai_settings, fault, code, words
):
    openai_settings.fail_next(fault, times=5)
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1-mini")
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert job.error_code == code
    assert words in job.error.lower()
    assert len(openai_settings.requests) == 1  # not retried
    assert await sync_to_async(balance)(cast.team) == before
    team = await Team.objects.aget(pk=cast.team.pk)
    assert await sync_to_async(credits.ledger_total)(team) == team.credit_balance


async def test_transient_failure_is_retried_to_success(cast, openai_settings):
    openai_settings.fail_next("server_error", times=1)
    job = await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1-mini")
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED
    assert len(openai_settings.requests) == 2


async def test_persistent_transient_failure_fails_and_refunds(cast, openai_settings):
    openai_settings.fail_next("unavailable", times=5)
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1-mini")
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED and job.error_code == "transient"
    assert await sync_to_async(balance)(cast.team) == before


async def test_model_not_found_marks_model_unavailable(cast, openai_settings):
    openai_settings.shutdown_models.add("gpt-image-1.5")
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1.5")
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.FAILED and job.error_code == "model_unavailable"
    assert await sync_to_async(balance)(cast.team) == before
    assert await ModelOutage.objects.filter(model="gpt-image-1.5").aexists()
    # No further job is sent to it; the form shows it disabled with its successor.
    from studio.jobs import SubmitError

    with pytest.raises(SubmitError) as refused:
        await sync_to_async(submit)(cast.editor, cast.team, model="gpt-image-1.5")
    assert (
        "Use GPT Image 2.6 Sunburst" in refused.value.message or "instead" in refused.value.message
    )
    choice = next(c for c in await sync_to_async(lineup.choices)() if c.spec.key == "gpt-image-1.5")
    assert not choice.selectable


def test_openai_models_need_a_key(cast, settings):
    from studio.jobs import SubmitError

    settings.OPENAI_API_KEY = ""
    with pytest.raises(SubmitError) as refused:
        submit(cast.editor, cast.team, model="gpt-image-2")
    assert "API key" in refused.value.message
    assert lineup.default_model().key == "sketch"


def test_default_model_is_the_live_draft_model_when_a_key_is_set(settings):
    settings.OPENAI_API_KEY = "sk-test"
    spec = lineup.default_model()
    assert "draft" in spec.tiers and spec.engine == "openai"
