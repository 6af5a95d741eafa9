"""Iterating on a version: variations, upscale, promote, refine; and their endpoints."""

import io

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.urls import reverse
from PIL import Image, ImageChops, ImageDraw, ImageStat

from accounts.models import Team
from studio import edits, imaging, iterations
from studio.catalog import cost, registry
from studio.jobs import SubmitError
from studio.models import Asset, Gallery, Job, JobStatus, Version, VersionKind

from .pipeline import drain
from .test_edits import make_version, pixels
from .world import painted_mask

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}


def balance(team) -> int:
    return Team.objects.get(pk=team.pk).credit_balance


def stored_version(user, team, size=(64, 48), kind=VersionKind.GENERATE) -> Version:
    """A version with a small, detailed image of the given size, stored like a real one."""
    img = Image.new("RGB", size, (30, 60, 90))
    draw = ImageDraw.Draw(img)
    for x in range(0, size[0], 8):
        draw.line([(x, 0), (size[0] - x, size[1])], fill=(240, 200, 40), width=2)
    name = default_storage.save(
        f"teams/{team.pk.hex}/originals/test.png", ContentFile(imaging.encode_png(img))
    )
    gallery = Gallery.default_for(team)
    asset = Asset.objects.create(team=team, gallery=gallery, title="A lighthouse at dusk")
    version = Version.objects.create(
        team=team,
        asset=asset,
        kind=kind,
        brief={"subject": "A lighthouse at dusk", "lighting": "Low sun from the right"},
        prompt="A lighthouse at dusk. Low sun from the right.",
        model="sketch",
        quality="medium",
        aspect_ratio="1:1",
        seed=7,
        requested_width=size[0],
        requested_height=size[1],
        width=size[0],
        height=size[1],
        image=name,
        thumbnail=name,
        checksum="x",
        created_by=user,
    )
    asset.current_version = version
    asset.save()
    return version


def run_queue():
    async_to_sync(drain)()


# --- variations -----------------------------------------------------------------------------


def test_variations_are_new_versions_of_the_same_asset(cast):
    source = async_to_sync(make_version)(cast.editor, cast.team)
    before = balance(cast.team)
    job = iterations.variations(cast.editor, source, 3)
    assert job.kind == VersionKind.VARIATION and job.n == 3
    assert balance(cast.team) == before - 3  # sketch: 1 credit an image
    run_queue()
    made = Version.objects.filter(job=job)
    assert made.count() == 3
    for version in made:
        assert version.kind == VersionKind.VARIATION
        assert version.parent_id == source.pk and version.asset_id == source.asset_id
        assert version.brief == source.brief and version.model == source.model
        assert (version.width, version.height) == (source.width, source.height)
    assert len({v.seed for v in made} | {source.seed}) == 4  # new seeds
    assert Asset.objects.get(pk=source.asset_id).current_version_id in {v.pk for v in made}


def test_variations_are_generated_not_edited(cast, openai_settings):
    source = async_to_sync(make_version)(
        cast.editor, cast.team, model="gpt-image-1-mini", quality="low"
    )
    job = iterations.variations(cast.editor, source, 1)
    run_queue()
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED
    sent = openai_settings.requests[-1]
    assert sent.path == "/v1/images/generations"  # no source image goes up
    assert sent.json["prompt"] == "A red bicycle against a white wall. Golden hour from the left."


def test_variation_count_is_checked(cast):
    source = stored_version(cast.editor, cast.team)
    with pytest.raises(SubmitError, match="between 1 and 4"):
        iterations.variations(cast.editor, source, 9)
    assert not Job.objects.exists()


# --- upscale --------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2, 4])
def test_upscale_multiplies_the_size_exactly_without_an_engine(cast, factor):
    source = stored_version(cast.editor, cast.team, size=(64, 48))
    before = balance(cast.team)
    job = iterations.upscale(cast.editor, source, factor)
    assert job.cost == 1 and balance(cast.team) == before - 1
    run_queue()
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    version = Version.objects.get(job=job)
    assert version.kind == VersionKind.UPSCALE and version.parent_id == source.pk
    assert version.asset_id == source.asset_id and version.seed == source.seed
    assert (version.width, version.height) == (64 * factor, 48 * factor)
    assert (version.requested_width, version.requested_height) == (64 * factor, 48 * factor)
    enlarged = pixels(version.image.name)
    assert enlarged.size == (64 * factor, 48 * factor)
    # Same frame: shrunk back down, it matches the source closely.
    back = enlarged.resize((64, 48), Image.Resampling.LANCZOS)
    diff = ImageChops.difference(back, pixels(source.image.name)).convert("L")
    assert ImageStat.Stat(diff).mean[0] < 24


def test_upscale_is_capped(cast):
    source = stored_version(cast.editor, cast.team)
    Version.objects.filter(pk=source.pk).update(width=4096, height=2304)
    source.refresh_from_db()
    before = balance(cast.team)
    with pytest.raises(SubmitError) as refused:
        iterations.upscale(cast.editor, source, 4)
    assert refused.value.field == "factor"
    assert "16384×9216" in refused.value.message and "8192" in refused.value.message
    with pytest.raises(SubmitError, match="2× or 4×"):
        iterations.upscale(cast.editor, source, 3)
    assert not Job.objects.exists() and balance(cast.team) == before
    assert iterations.upscale_refusal(source, 2) is None  # 8192 is allowed


def double_by_nearest(img, factor):
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)


def test_the_upscaler_is_pluggable(cast, settings):
    settings.STUDIO_UPSCALER = "tests.test_iterations.double_by_nearest"
    source = stored_version(cast.editor, cast.team, size=(16, 16))
    job = iterations.upscale(cast.editor, source, 2)
    run_queue()
    version = Version.objects.get(job=job)
    expected = double_by_nearest(pixels(source.image.name), 2)
    assert ImageChops.difference(pixels(version.image.name), expected).getbbox() is None


def refusing_upscaler(img, factor):
    raise imaging.ImageRejected("This upscaler only takes photographs.")


def test_a_failed_upscale_says_why_and_refunds(cast, settings):
    settings.STUDIO_UPSCALER = "tests.test_iterations.refusing_upscaler"
    source = stored_version(cast.editor, cast.team)
    before = balance(cast.team)
    job = iterations.upscale(cast.editor, source, 2)
    run_queue()
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.FAILED
    assert job.error == "This upscaler only takes photographs."
    assert balance(cast.team) == before
    assert not Version.objects.filter(job=job).exists()


def test_upscaling_works_for_a_retired_model(cast):
    # No engine is called, so the model that drew the pixels need not be usable today.
    source = stored_version(cast.editor, cast.team)
    Version.objects.filter(pk=source.pk).update(model="gpt-image-1")
    source.refresh_from_db()
    job = iterations.upscale(cast.editor, source, 2)
    run_queue()
    assert Version.objects.get(job=job).model == "gpt-image-1"


def test_an_upscaled_version_can_be_edited_keeping_what_is_outside_the_mask(cast):
    # Larger than the model's native size: the engine gets it scaled down, and the
    # result still keeps every unpainted pixel of the large original.
    source = stored_version(cast.editor, cast.team, size=(1200, 1200), kind=VersionKind.UPSCALE)
    box = (200, 200, 600, 600)
    edit = edits.EditRequest(
        change="Add a red door",
        mask=painted_mask((1200, 1200), box),
        model="sketch",
        feather=0,
    )
    job = edits.submit_edit(cast.editor, source, edit)
    run_queue()
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    result = Version.objects.get(job=job)
    assert (result.width, result.height) == (1200, 1200)
    before, after = pixels(source.image.name), pixels(result.image.name)
    outside = Image.new("L", before.size, 255)
    outside.paste(0, box)
    diff = ImageChops.difference(before, after).convert("L")
    assert ImageChops.multiply(diff, outside).getbbox() is None
    assert diff.crop(box).getbbox() is not None


# --- promote --------------------------------------------------------------------------------


async def test_promote_redraws_the_draft_on_the_chosen_model(cast, openai_settings):
    source = await make_version(cast.editor, cast.team, aspect_ratio="16:9")
    before = await sync_to_async(balance)(cast.team)
    job = await sync_to_async(iterations.promote)(cast.editor, source, "gpt-image-2")
    spec = registry().get("gpt-image-2")
    assert job.kind == VersionKind.PROMOTE and job.quality == "high"
    # The model's price for one high image, plus the draft sent as an input image.
    assert job.cost == cost(spec, "high", "16:9", 1, references=1)
    assert await sync_to_async(balance)(cast.team) == before - job.cost
    await drain()
    job = await Job.objects.aget(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error

    sent = openai_settings.requests[-1]
    assert sent.path == "/v1/images/edits"
    assert sent.form["model"] == "gpt-image-2"
    assert sent.form["quality"] == "high"
    assert sent.form["size"] == "1536x864"
    assert sent.form["prompt"].startswith("A red bicycle against a white wall.")
    assert iterations.PROMOTE_INSTRUCTION in sent.form["prompt"]
    assert [part.field_name for part in sent.files] == ["image"]  # the draft, and no mask
    draft = Image.open(io.BytesIO(sent.files[0].data)).convert("RGB")
    original = await sync_to_async(pixels)(source.image.name)
    assert draft.size == original.size == (1536, 864)
    assert ImageChops.difference(draft, original).getbbox() is None

    result = await Version.objects.aget(job=job)
    assert result.kind == VersionKind.PROMOTE and result.model == "gpt-image-2"
    assert result.parent_id == source.pk and result.asset_id == source.asset_id


def test_promote_refuses_the_same_model_and_unusable_ones(cast):
    source = stored_version(cast.editor, cast.team)
    before = balance(cast.team)
    with pytest.raises(SubmitError, match="made with Sketch"):
        iterations.promote(cast.editor, source, "sketch")
    with pytest.raises(SubmitError, match="needs an OpenAI API key"):
        iterations.promote(cast.editor, source, "gpt-image-2")
    with pytest.raises(SubmitError, match="no model called"):
        iterations.promote(cast.editor, source, "gpt-9000")
    assert not Job.objects.exists() and balance(cast.team) == before


# --- refine ---------------------------------------------------------------------------------


def test_refine_starts_from_the_brief_or_the_earlier_edit(cast):
    source = stored_version(cast.editor, cast.team, size=(64, 64))
    assert iterations.refine_brief(source) == ("A lighthouse at dusk", "Low sun from the right")
    edit = edits.EditRequest(
        change="A red door",
        keep="The tower",
        mask=painted_mask((64, 64), (0, 0, 20, 20)),
        model="sketch",
    )
    job = edits.submit_edit(cast.editor, source, edit)
    run_queue()
    edited = Version.objects.select_related("job").get(job=job)
    assert iterations.refine_brief(edited) == ("A red door", "The tower")


# --- endpoints and the partial --------------------------------------------------------------


def test_variation_endpoint_answers_with_a_status_line(cast):
    source = stored_version(cast.editor, cast.team)
    client = cast.client(cast.editor)
    url = reverse("studio:variations", args=[source.pk])
    response = client.post(url, {"n": "2"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Queued 2 variations for 2 credits." in html
    assert f'id="credit-balance" hx-swap-oob="true">{balance(cast.team)}<' in html
    response = client.post(url, {"n": "12"}, **HTMX)
    assert response.status_code == 200  # htmx swaps in only 2xx answers
    assert 'role="alert">Ask for between 1 and 4 images.' in response.content.decode()
    assert Job.objects.count() == 1


def test_upscale_and_promote_endpoints(cast):
    source = stored_version(cast.editor, cast.team)
    client = cast.client(cast.editor)
    response = client.post(reverse("studio:upscale", args=[source.pk]), {"factor": "4"}, **HTMX)
    assert "Queued a 4× upscale to 256×192 for 1 credit." in response.content.decode()
    response = client.post(reverse("studio:promote", args=[source.pk]), {"model": "sketch"})
    assert response.status_code == 302  # without htmx: back to the asset with a message
    assert response["Location"].endswith(f"?version={source.pk}")
    assert Job.objects.filter(kind=VersionKind.PROMOTE).count() == 0


def test_viewers_and_outsiders_cannot_iterate(cast):
    source = stored_version(cast.editor, cast.team)
    for name in ("variations", "upscale", "promote"):
        url = reverse(f"studio:{name}", args=[source.pk])
        data = {"n": "1", "factor": "2", "model": "gpt-image-2"}
        assert cast.client(cast.viewer).post(url, data).status_code == 403
        assert cast.client(cast.outsider).post(url, data).status_code == 404
        assert cast.client(cast.editor).get(url).status_code == 405
    with pytest.raises(PermissionDenied):
        iterations.variations(cast.viewer, source, 1)
    assert not Job.objects.exists()


def test_iterate_partial_needs_only_the_version_and_the_right(cast, settings):
    source = stored_version(cast.editor, cast.team, size=(3000, 2000))
    html = render_to_string("studio/_iterate.html", {"version": source, "can_create": True})
    assert f'href="/versions/{source.pk}/edit/"' in html
    assert f'href="/versions/{source.pk}/edit/?refine=1"' in html
    assert '<label for="variations-n-' in html and "1 credit each" in html
    assert "2× · 6000×4000" in html
    # 4× would pass the cap: the button is off and the reason is written out.
    assert 'value="4" disabled' in html and "12000×8000 pixels" in html
    assert "Needs an OpenAI API key on the server." in html  # offline: nothing to promote to
    assert "style=" not in html
    settings.OPENAI_API_KEY = "sk-test"
    html = render_to_string("studio/_iterate.html", {"version": source, "can_create": True})
    price = cost(registry().get("gpt-image-2"), "high", "1:1", 1, references=1)
    assert f'<option value="gpt-image-2" >GPT Image 2 · {price} credits</option>' in html
    assert 'value="sketch"' not in html.split("Promote to")[1]  # not its own model
    html = render_to_string("studio/_iterate.html", {"version": source, "can_create": False})
    assert "<form" not in html
