"""Masked edits through the pipeline: what the engine is sent, and what stays."""

import io

import pytest
from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from PIL import Image, ImageChops

from accounts.models import Team
from studio import edits, imaging
from studio.jobs import SubmitError
from studio.models import Job, JobStatus, Version

from .pipeline import drain, submit
from .world import painted_mask

pytestmark = pytest.mark.django_db(transaction=True)


def picture(size=(64, 64), colour=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def pixels(name) -> Image.Image:
    with default_storage.open(name) as handle:
        return imaging.open_image(handle.read()).convert("RGB")


async def make_version(user, team, **options) -> Version:
    job = await sync_to_async(submit)(user, team, **options)
    await drain()
    return await Version.objects.select_related("asset__gallery").aget(job=job)


async def test_openai_edit_sends_image_mask_references_and_keeps_the_rest(cast, openai_settings):
    source = await make_version(
        cast.editor, cast.team, model="gpt-image-1-mini", aspect_ratio="16:9", quality="low"
    )
    box = (600, 300, 900, 600)
    edit = edits.EditRequest(
        change="Make the bicycle blue",
        keep="The wall and the light",
        mask=painted_mask((source.width, source.height), box),
        model="gpt-image-1-mini",
        quality="low",
        uploaded_references=[picture()],
        feather=6,
    )
    job = await sync_to_async(edits.submit_edit)(cast.editor, source, edit)
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error

    sent = openai_settings.requests[-1]
    assert sent.path == "/v1/images/edits"
    assert sent.form["model"] == "gpt-image-1-mini"
    assert sent.form["size"] == "1536x1024"  # native size; the 16:9 frame is padded in
    assert sent.form["quality"] == "low"
    assert sent.form["stream"] == "true"
    assert "Make the bicycle blue" in sent.form["prompt"]
    assert "The wall and the light" in sent.form["prompt"]
    names = [part.field_name for part in sent.files]
    assert names == ["image[]", "image[]", "mask"]
    image = Image.open(io.BytesIO(sent.files[0].data))
    mask = Image.open(io.BytesIO(sent.files[2].data))
    assert image.size == mask.size == (1536, 1024)
    assert mask.mode == "RGBA"
    # Transparent exactly where the user painted (offset by the 80 px padding band).
    assert mask.getpixel((750, 450 + 80))[3] == 0
    assert mask.getpixel((100, 100 + 80))[3] == 255
    assert mask.getpixel((100, 10))[3] == 255  # the padding band is not to be drawn on
    reference = Image.open(io.BytesIO(sent.files[1].data))
    assert reference.size == (64, 64)

    result = await Version.objects.aget(job=job)
    assert result.parent_id == source.pk and result.asset_id == source.asset_id
    assert (result.width, result.height) == (1536, 864)
    assert result.mask.name
    before, after = (
        await sync_to_async(pixels)(source.image.name),
        await sync_to_async(pixels)(result.image.name),
    )
    outside = Image.new("L", before.size, 255)
    outside.paste(0, box)
    diff = ImageChops.difference(before, after)
    # Not one pixel outside the painted area changed; inside, the edit shows.
    assert ImageChops.multiply(diff.convert("L"), outside).getbbox() is None
    assert diff.crop((650, 350, 850, 550)).getbbox() is not None


async def test_opting_out_of_the_keep_step_returns_the_engines_pixels(cast, openai_settings):
    source = await make_version(cast.editor, cast.team, model="gpt-image-1-mini", quality="low")
    edit = edits.EditRequest(
        change="Add a kite",
        mask=painted_mask((source.width, source.height), (0, 0, 100, 100)),
        model="gpt-image-1-mini",
        quality="low",
        keep_outside_mask=False,
    )
    job = await sync_to_async(edits.submit_edit)(cast.editor, source, edit)
    await drain()
    result = await Version.objects.aget(job=job)
    before, after = (
        await sync_to_async(pixels)(source.image.name),
        await sync_to_async(pixels)(result.image.name),
    )
    assert ImageChops.difference(before, after).crop((500, 500, 600, 600)).getbbox() is not None


async def test_sketch_edit_keeps_unmasked_pixels(cast):
    source = await make_version(cast.editor, cast.team)
    box = (100, 100, 400, 400)
    edit = edits.EditRequest(
        change="Add a red door",
        mask=painted_mask((source.width, source.height), box),
        model="sketch",
        feather=0,
    )
    job = await sync_to_async(edits.submit_edit)(cast.editor, source, edit)
    await drain()
    result = await Version.objects.aget(job=job)
    before, after = (
        await sync_to_async(pixels)(source.image.name),
        await sync_to_async(pixels)(result.image.name),
    )
    outside = Image.new("L", before.size, 255)
    outside.paste(0, box)
    diff = ImageChops.difference(before, after).convert("L")
    assert ImageChops.multiply(diff, outside).getbbox() is None
    assert diff.crop(box).getbbox() is not None


@pytest.mark.parametrize(
    "mask, field, words",
    [
        (lambda v: painted_mask((512, 512), (0, 0, 10, 10)), "mask", "512×512"),
        (lambda v: painted_mask((v.width, v.height), (0, 0, 0, 0)), "mask", "Paint"),
        (lambda v: painted_mask((v.width, v.height), (0, 0, v.width, v.height)), "mask", "whole"),
        (lambda v: b"GIF89a not a png", "mask", "PNG"),
        (lambda v: painted_mask((v.width, v.height), (0, 0, 9, 9))[:60], "mask", "damaged"),
    ],
)
def test_bad_masks_are_refused_with_no_job_and_no_charge(cast, mask, field, words):
    from asgiref.sync import async_to_sync

    source = async_to_sync(make_version)(cast.editor, cast.team)
    balance = Team.objects.get(pk=cast.team.pk).credit_balance
    jobs_before = Job.objects.count()
    edit = edits.EditRequest(change="Add a kite", mask=mask(source), model="sketch")
    with pytest.raises(SubmitError) as refused:
        edits.submit_edit(cast.editor, source, edit)
    assert refused.value.field == field and words in refused.value.message
    assert Job.objects.count() == jobs_before
    assert Team.objects.get(pk=cast.team.pk).credit_balance == balance


def test_references_are_checked(cast):
    from asgiref.sync import async_to_sync
    from django.http import Http404

    source = async_to_sync(make_version)(cast.editor, cast.team)
    foreign = async_to_sync(make_version)(cast.outsider, cast.other_team)
    mask = painted_mask((source.width, source.height), (0, 0, 50, 50))
    with pytest.raises(Http404):
        edits.submit_edit(
            cast.editor,
            source,
            edits.EditRequest("Kite", mask, "sketch", reference_versions=[str(foreign.pk)]),
        )
    with pytest.raises(SubmitError) as refused:
        edits.submit_edit(
            cast.editor,
            source,
            edits.EditRequest("Kite", mask, "sketch", uploaded_references=[b"%PDF-1.4"]),
        )
    assert refused.value.field == "references"
    with pytest.raises(SubmitError) as refused:
        edits.submit_edit(
            cast.editor,
            source,
            edits.EditRequest("Kite", mask, "sketch", uploaded_references=[picture()] * 5),
        )
    assert "at most 4" in refused.value.message
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):  # a viewer may look but not edit
        edits.submit_edit(cast.viewer, source, edits.EditRequest("Kite", mask, "sketch"))
