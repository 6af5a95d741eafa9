"""The masked-edit page: who may open it, what it offers, and how it refuses bad input.

Every refusal must show a clear message beside its field and leave no job and no charge.
"""

import html as html_lib
import io
import re

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import Team
from studio.catalog import reset_registry
from studio.models import Job, Version, VersionKind

from .test_edits import make_version, picture
from .test_imaging import png_claiming_size
from .world import painted_mask

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def source(cast) -> Version:
    return async_to_sync(make_version)(cast.editor, cast.team)


def edit_url(version) -> str:
    return reverse("studio:edit", args=[version.pk])


def upload(data: bytes, name="mask.png", content_type="image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def good_mask(version) -> bytes:
    return painted_mask((version.width, version.height), (100, 100, 300, 300))


def post_edit(client, version, *, mask=None, htmx=True, **fields):
    data = {"change": "Add a red kite", "model": "sketch", "quality": "medium", "feather": "8"}
    data["keep_outside_mask"] = "1"
    data.update(fields)
    if mask is not False:
        data["mask"] = upload(good_mask(version) if mask is None else mask)
    return client.post(edit_url(version), data, **(HTMX if htmx else {}))


def balance(team) -> int:
    return Team.objects.get(pk=team.pk).credit_balance


def error_text(response, slot: str) -> str:
    """The message shown in one error slot, or "" when the slot is empty."""
    html = response.content.decode()
    match = re.search(
        rf'<p id="error-{slot}" class="field-error"( role="alert"| hidden)>(.*?)</p>', html
    )
    assert match, f"no error slot {slot!r} in the response"
    return html_lib.unescape(match.group(2)) if match.group(1) == ' role="alert"' else ""


# --- the page -------------------------------------------------------------------------------


def test_editor_sees_canvas_brief_fields_models_and_cost(cast, source):
    response = cast.client(cast.editor).get(edit_url(source))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_change">What changes</label>' in html
    assert '<label for="id_keep">What must stay</label>' in html
    assert "Keep everything outside the mask unchanged" in html
    assert 'name="keep_outside_mask" id="id_keep_outside_mask" value="1" checked' in html
    assert f'data-width="{source.width}" data-height="{source.height}"' in html
    assert f'<canvas class="mask-layer" data-mask width="{source.width}"' in html
    assert reverse("studio:version_file", args=[source.pk, "original"]) in html
    assert "js/mask-editor.js" in html
    # Sketch at medium quality: 1 credit; the source is an input image but sketch
    # charges nothing for inputs.
    assert 'id="edit-cost-value">1 credit<' in html
    assert "style=" not in html and "<script>" not in html  # the CSP forbids both


def test_only_models_that_can_edit_are_offered(cast, source, settings):
    settings.STUDIO_MODELS = {
        "models": {
            "drawer": {"like": "sketch", "label": "Draws only", "capabilities": ["generate"]}
        }
    }
    reset_registry()
    html = cast.client(cast.editor).get(edit_url(source)).content.decode()
    model_select = html.split('id="id_model"')[1].split("</select>")[0]
    assert "Sketch (offline study)" in model_select
    assert "Draws only" not in model_select
    assert 'value="sketch" selected' in model_select  # the version's own model


def test_team_versions_can_be_picked_as_references(cast, source):
    other = async_to_sync(make_version)(cast.editor, cast.team, subject="A blue door")
    foreign = async_to_sync(make_version)(cast.outsider, cast.other_team, subject="Secret")
    html = cast.client(cast.editor).get(edit_url(source)).content.decode()
    picker = html.split('class="reference-picker"')[1].split("</ul>")[0]
    assert f'value="{other.pk}"' in picker
    assert f'value="{source.pk}"' not in picker  # it is the image being edited
    assert str(foreign.pk) not in html


def test_refine_prefills_the_brief(cast, source):
    html = cast.client(cast.editor).get(edit_url(source) + "?refine=1").content.decode()
    assert ">A red bicycle against a white wall</textarea>" in html
    assert ">Golden hour from the left</textarea>" in html


def test_viewer_gets_403_and_outsider_404(cast, source):
    assert cast.client(cast.viewer).get(edit_url(source)).status_code == 403
    assert cast.client(cast.outsider).get(edit_url(source)).status_code == 404
    assert cast.client(None).get(edit_url(source)).status_code == 302  # to the login page
    before = Job.objects.count()
    assert post_edit(cast.client(cast.viewer), source).status_code == 403
    assert post_edit(cast.client(cast.outsider), source).status_code == 404
    assert Job.objects.count() == before


def test_cost_follows_model_quality_and_references(cast, source, settings):
    settings.OPENAI_API_KEY = "sk-test"
    client = cast.client(cast.editor)
    url = reverse("studio:edit_cost", args=[source.pk])
    html = client.get(url, {"model": "gpt-image-1-mini", "quality": "low"}).content.decode()
    # 1 credit for a low square image, plus 1 for the source sent as input.
    assert 'id="edit-cost-value">2 credits<' in html
    other = async_to_sync(make_version)(cast.editor, cast.team, subject="A blue door")
    params = {"model": "gpt-image-1-mini", "quality": "low", "upload_count": "2"}
    html = client.get(url, {**params, "reference_versions": [str(other.pk)]}).content.decode()
    assert 'id="edit-cost-value">5 credits<' in html
    html = client.get(url, {"model": "sketch", "quality": "xhigh"}).content.decode()
    assert "offers quality low, medium, high" in html


# --- submitting -----------------------------------------------------------------------------


def test_edit_is_queued_and_the_browser_sent_to_the_asset(cast, source):
    before = balance(cast.team)
    response = post_edit(cast.client(cast.editor), source, keep="The wall", feather="4")
    assert response.status_code == 200
    target = response["HX-Redirect"]
    assert target == reverse("studio:asset", args=[source.asset_id]) + f"?version={source.pk}"
    job = Job.objects.get(kind=VersionKind.EDIT)
    assert job.source_version_id == source.pk and job.asset_id == source.asset_id
    assert job.params["keep_outside_mask"] is True and job.params["feather"] == 4
    assert "Add a red kite" in job.prompt and "The wall" in job.prompt
    assert balance(cast.team) == before - job.cost


def test_without_htmx_a_plain_redirect(cast, source):
    response = post_edit(cast.client(cast.editor), source, htmx=False, keep_outside_mask="")
    assert response.status_code == 302
    assert response["Location"].endswith(f"?version={source.pk}")
    assert Job.objects.get(kind=VersionKind.EDIT).params["keep_outside_mask"] is False


def test_uploaded_and_picked_references_are_sent(cast, source):
    other = async_to_sync(make_version)(cast.editor, cast.team, subject="A blue door")
    response = post_edit(
        cast.client(cast.editor),
        source,
        references=[upload(picture(), "ref.png")],
        reference_versions=[str(other.pk)],
    )
    assert response.status_code == 200, response.content
    references = Job.objects.get(kind=VersionKind.EDIT).params["references"]
    assert references[0] == other.image.name and len(references) == 2


def _mask_of_other_size(version):
    return painted_mask((512, 512), (0, 0, 10, 10))


def _empty_mask(version):
    return painted_mask((version.width, version.height), (0, 0, 0, 0))


def _full_mask(version):
    return painted_mask((version.width, version.height), (0, 0, version.width, version.height))


def _jpeg_mask(version):
    out = io.BytesIO()
    Image.new("RGB", (version.width, version.height), "white").save(out, "JPEG")
    return out.getvalue()


def _corrupt_mask(version):
    return good_mask(version)[:80]


def _bomb_mask(version):
    return png_claiming_size(50_000, 50_000)


@pytest.mark.parametrize(
    "make_mask, words",
    [
        (_mask_of_other_size, "The mask is 512×512 but the image is 1024×1024"),
        (_empty_mask, "Paint the area you want to change first."),
        (_full_mask, "The mask covers the whole image"),
        (_jpeg_mask, "The mask must be a PNG image."),
        (_corrupt_mask, "The mask file is damaged or incomplete."),
        # Refused from its header by Pillow's bomb guard, before any pixel is decoded.
        (_bomb_mask, "The mask file is damaged or incomplete."),
    ],
)
def test_bad_masks_get_a_message_beside_the_canvas_and_cost_nothing(cast, source, make_mask, words):
    before = balance(cast.team)
    response = post_edit(cast.client(cast.editor), source, mask=make_mask(source))
    assert response.status_code == 200  # htmx shows only 2xx answers
    assert words in error_text(response, "mask")
    assert error_text(response, "change") == ""  # one message, in the right place
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()
    assert balance(cast.team) == before


def test_missing_mask_and_missing_change_are_explained(cast, source):
    client = cast.client(cast.editor)
    response = post_edit(client, source, mask=False)
    assert "Paint the area you want to change first." in error_text(response, "mask")
    response = post_edit(client, source, change="  ")
    assert "Say what should change" in error_text(response, "change")
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()


def test_oversized_upload_is_refused_before_it_is_read(cast, source, settings):
    settings.STUDIO_MAX_UPLOAD_BYTES = 60_000
    big = upload(b"\x89PNG\r\n\x1a\n" + bytes(70_000), "poster.png")
    response = post_edit(cast.client(cast.editor), source, references=[big], htmx=False)
    assert response.status_code == 413
    assert "“poster.png” is 0.1 MB" in error_text(response, "references")
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()


def test_oversized_mask_is_refused(cast, source, settings):
    settings.STUDIO_MAX_UPLOAD_BYTES = 1_000
    response = post_edit(cast.client(cast.editor), source)
    assert response.status_code == 200
    assert "The mask is" in error_text(response, "mask")


def test_decompression_bomb_reference_is_refused(cast, source):
    bomb = upload(png_claiming_size(50_000, 50_000), "bomb.png")
    before = balance(cast.team)
    response = post_edit(cast.client(cast.editor), source, references=[bomb])
    assert response.status_code == 200
    assert "too many pixels" in error_text(response, "references")
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()
    assert balance(cast.team) == before


def test_more_references_than_the_model_takes(cast, source):
    refs = [upload(picture(), f"ref{i}.png") for i in range(5)]
    response = post_edit(cast.client(cast.editor), source, references=refs)
    assert "at most 4 reference images" in error_text(response, "references")
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()


def test_reference_from_another_team_is_refused_with_a_message(cast, source):
    # The editor is in both teams here, so only the team check stands in the way.
    from accounts.models import Membership, Role

    Membership.objects.create(team=cast.other_team, user=cast.editor, role=Role.EDITOR)
    foreign = async_to_sync(make_version)(cast.outsider, cast.other_team, subject="Secret")
    before = balance(cast.team)
    response = post_edit(cast.client(cast.editor), source, reference_versions=[str(foreign.pk)])
    assert response.status_code == 200
    assert "not in this team's galleries" in error_text(response, "references")
    response = post_edit(cast.client(cast.editor), source, reference_versions=["not-a-uuid"])
    assert "does not exist" in error_text(response, "references")
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()
    assert balance(cast.team) == before


def test_without_htmx_the_page_comes_back_with_the_users_words(cast, source):
    response = post_edit(
        cast.client(cast.editor),
        source,
        htmx=False,
        mask=_empty_mask(source),
        change="Swap the sky for dusk",
        keep="The rooftops",
        feather="12",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert ">Swap the sky for dusk</textarea>" in html
    assert ">The rooftops</textarea>" in html
    assert 'name="feather" min="0" max="64" value="12"' in html
    assert "Paint the area you want to change first." in error_text(response, "mask")


def test_out_of_credits_is_a_message_and_no_job(cast, source):
    Team.objects.filter(pk=cast.team.pk).update(credit_balance=0)
    response = post_edit(cast.client(cast.editor), source, htmx=False)
    assert response.status_code == 402
    assert "credit" in error_text(response, "form").lower()
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()
