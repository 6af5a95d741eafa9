"""The masked-edit page, and the iteration endpoints: variations, upscale, promote.

Thin: check access, turn the request into an EditRequest or a call to iterations,
render the result. The mask itself is painted by static/js/mask-editor.js, which sends
it as a PNG at the image's natural size alongside the form.
"""

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.permissions import Action, get_for

from .. import edits, imaging, iterations, jobs, lineup
from ..catalog import UnknownModel, cost, qualities_of, registry
from ..models import Version

# Where a refused field's message goes; anything else is shown under the submit button.
ERROR_SLOTS = ("mask", "change", "keep", "model", "quality", "references", "feather", "form")
MAX_REFERENCE_FILES = 16  # above every model's limit: refuse before reading the files
RECENT_REFERENCES = 12


def _version(request, version_id, action=Action.CREATE) -> Version:
    return get_for(
        request.user,
        Version.objects.select_related("asset__gallery", "team", "job"),
        action,
        pk=version_id,
    )


def asset_url(version: Version) -> str:
    """The asset page, showing this version."""
    return reverse("studio:asset", args=[version.asset_id]) + f"?version={version.pk}"


# --- the edit page ------------------------------------------------------------------------


@dataclass
class EditValues:
    """What the form shows: the user's last input, or the starting values."""

    change: str = ""
    keep: str = ""
    model: str = ""
    quality: str = "medium"
    keep_outside_mask: bool = True
    feather: str = "8"
    reference_versions: list[str] = field(default_factory=list)

    @classmethod
    def from_post(cls, data) -> "EditValues":
        return cls(
            change=data.get("change", ""),
            keep=data.get("keep", ""),
            model=data.get("model", ""),
            quality=data.get("quality", "medium"),
            keep_outside_mask=bool(data.get("keep_outside_mask")),
            feather=data.get("feather", "8"),
            reference_versions=data.getlist("reference_versions"),
        )


@dataclass
class Estimate:
    """The credit cost shown beside the form, and why it may not be final."""

    cost: int | None
    balance: int
    model_label: str
    max_references: int
    input_image_credits: int
    engine: str
    note: str = ""


def _edit_models(gone: frozenset[str]) -> list[lineup.ModelChoice]:
    return [choice for choice in lineup.choices(gone) if choice.spec.can("edit")]


def _default_model(
    version: Version, choices: list[lineup.ModelChoice], gone: frozenset[str]
) -> str:
    """The version's own model when it can edit today, else the studio's default."""
    usable = [choice.spec.key for choice in choices if choice.selectable]
    if version.model in usable:
        return version.model
    default = lineup.default_model(gone).key
    if default in usable:
        return default
    return usable[0] if usable else ""


def estimate(version: Version, model: str, quality: str, references: int) -> Estimate:
    """What the edit will cost: the model's price plus its input images (source included)."""
    balance = version.team.credit_balance
    try:
        spec = registry().get(model)
    except UnknownModel:
        spec = lineup.default_model()
    base = Estimate(
        None, balance, spec.label, spec.max_references, spec.input_image_credits, spec.engine
    )
    if quality not in spec.qualities:
        base.note = f"{spec.label} offers quality {', '.join(spec.qualities)}."
        return base
    if references > spec.max_references:
        base.note = f"{spec.label} takes at most {spec.max_references} reference images."
        return base
    base.cost = cost(spec, quality, version.aspect_ratio, 1, references=1 + references)
    return base


def _reference_choices(version: Version):
    return (
        Version.objects.filter(team_id=version.team_id)
        .exclude(pk=version.pk)
        .select_related("asset")
        .order_by("-created_at")[:RECENT_REFERENCES]
    )


def _context(version: Version, values: EditValues, error: jobs.SubmitError | None = None):
    gone = lineup.unavailable()  # one query serves the picker and the default
    choices = _edit_models(gone)
    if not values.model:
        values.model = _default_model(version, choices, gone)
    return {
        "version": version,
        "asset": version.asset,
        # The header shows the team whose credits an edit of this version spends.
        "current_team": version.team,
        "back_url": asset_url(version),
        "values": values,
        "model_choices": choices,
        "qualities": qualities_of(choice.spec for choice in choices),
        "reference_choices": _reference_choices(version),
        "estimate": estimate(version, values.model, values.quality, len(values.reference_versions)),
        "source_model_label": registry().label(version.model),
        "brush_size": max(8, round(max(version.width, version.height) / 24)),
        "brush_max": max(64, round(max(version.width, version.height) / 3)),
        "error_slots": ERROR_SLOTS,
        **_error_context(error),
    }


def _error_context(error: jobs.SubmitError | None) -> dict:
    if error is None:
        return {"error_slot": "", "error_message": ""}
    slot = error.field if error.field in ERROR_SLOTS else "form"
    return {"error_slot": slot, "error_message": error.message}


@login_required
def edit(request, version_id):
    """GET: the mask editor and the edit brief. POST: queue the edit."""
    version = _version(request, version_id)
    if request.method == "POST":
        return _submit_edit(request, version)
    values = EditValues()
    if request.GET.get("refine"):
        values.change, values.keep = iterations.refine_brief(version)
    return render(request, "studio/edit.html", _context(version, values))


def _read(upload, what: str, slot: str) -> bytes:
    """An uploaded file's bytes, refused by its size before anything is read."""
    limit = settings.STUDIO_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise jobs.SubmitError(
            slot,
            f"{what} is {imaging.megabytes(upload.size)} MB; "
            f"files up to {imaging.megabytes(limit)} MB are accepted.",
            413,
        )
    return upload.read()


def _picked_references(version: Version, ids: list[str]) -> list[str]:
    """The chosen reference versions, which must belong to the source's team."""
    try:
        wanted = list(dict.fromkeys(uuid.UUID(value) for value in ids))
    except ValueError:
        raise jobs.SubmitError("references", "A chosen reference image does not exist.") from None
    found = Version.objects.filter(team_id=version.team_id, pk__in=wanted).count()
    if found != len(wanted):
        raise jobs.SubmitError(
            "references",
            "A chosen reference image is not in this team's galleries; pick from the list.",
        )
    return [str(value) for value in wanted]


def _edit_request(request, version: Version, values: EditValues) -> edits.EditRequest:
    mask = request.FILES.get("mask")
    if mask is None:
        raise jobs.SubmitError("mask", "Paint the area you want to change first.")
    uploads = request.FILES.getlist("references")
    if len(uploads) > MAX_REFERENCE_FILES:
        raise jobs.SubmitError(
            "references", f"Attach at most {MAX_REFERENCE_FILES} reference images."
        )
    try:
        feather = int(values.feather or 0)
    except ValueError:
        raise jobs.SubmitError("feather", "The soft edge is a whole number of pixels.") from None
    return edits.EditRequest(
        change=values.change,
        keep=values.keep,
        mask=_read(mask, "The mask", "mask"),
        model=values.model,
        quality=values.quality,
        uploaded_references=[_read(upload, f"“{upload.name}”", "references") for upload in uploads],
        reference_versions=_picked_references(version, values.reference_versions),
        keep_outside_mask=values.keep_outside_mask,
        feather=feather,
    )


def _submit_edit(request, version: Version):
    values = EditValues.from_post(request.POST)
    try:
        job = edits.submit_edit(request.user, version, _edit_request(request, version, values))
    except jobs.SubmitError as error:
        if request.htmx:
            # The page stays as it is (texts, files, the painted mask): only the messages
            # change. 200, as htmx expects of an answer it should show.
            context = {"error_slots": ERROR_SLOTS, **_error_context(error)}
            return render(request, "studio/edit.html#edit_errors", context)
        return render(
            request, "studio/edit.html", _context(version, values, error), status=error.status
        )
    messages.success(
        request,
        f"Masked edit queued for {job.cost} credit{'s' if job.cost != 1 else ''}; "
        "it appears here when it is done.",
    )
    url = asset_url(version)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_GET
def edit_cost(request, version_id):
    """The cost line, refreshed as the model, quality or references change."""
    version = _version(request, version_id)
    try:
        uploads = max(0, int(request.GET.get("upload_count", 0)))
    except ValueError:
        uploads = 0
    references = uploads + len(request.GET.getlist("reference_versions"))
    context = {
        "estimate": estimate(
            version, request.GET.get("model", ""), request.GET.get("quality", ""), references
        )
    }
    return render(request, "studio/edit.html#cost_update", context)


# --- iteration tools ----------------------------------------------------------------------


def _iteration_result(request, version: Version, queue, describe):
    """Run one iteration tool; answer with a status line (htmx) or a message and redirect."""
    context = {"version": version}
    try:
        job = queue()
    except jobs.SubmitError as error:
        context["iterate_error"] = error.message
    else:
        context["iterate_queued"] = describe(job)
        version.team.refresh_from_db(fields=["credit_balance"])
        context["balance"] = version.team.credit_balance
    if request.htmx:  # a refusal too is a 200: htmx swaps in only successful answers
        return render(request, "studio/_iterate.html#iterate_result", context)
    if "iterate_error" in context:
        messages.error(request, context["iterate_error"])
    else:
        messages.success(request, context["iterate_queued"])
    return redirect(asset_url(version))


def _credits(amount: int) -> str:
    return f"{amount} credit{'s' if amount != 1 else ''}"


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@login_required
@require_POST
def variations(request, version_id):
    version = _version(request, version_id)
    n = _int(request.POST.get("n", 1))
    return _iteration_result(
        request,
        version,
        lambda: iterations.variations(request.user, version, n),
        lambda job: (
            f"Queued {job.n} variation{'s' if job.n != 1 else ''} for {_credits(job.cost)}."
        ),
    )


@login_required
@require_POST
def upscale(request, version_id):
    version = _version(request, version_id)
    factor = _int(request.POST.get("factor"))
    return _iteration_result(
        request,
        version,
        lambda: iterations.upscale(request.user, version, factor),
        lambda job: (
            f"Queued a {factor}× upscale to {version.width * factor}×"
            f"{version.height * factor} for {_credits(job.cost)}."
        ),
    )


@login_required
@require_POST
def promote(request, version_id):
    version = _version(request, version_id)
    model = request.POST.get("model", "")
    return _iteration_result(
        request,
        version,
        lambda: iterations.promote(request.user, version, model),
        lambda job: f"Queued a redraw on {registry().label(job.model)} for {_credits(job.cost)}.",
    )
