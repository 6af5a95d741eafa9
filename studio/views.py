"""Pages and htmx endpoints. Thin: check access, call domain functions, render partials."""

import contextlib
import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Team
from accounts.permissions import Action, can, get_for
from accounts.teams import current_team

from . import files, jobs, lineup
from .briefs import FIELDS, PRESETS, Brief, check_brief, compose_prompt, get_preset
from .catalog import RATIOS, TIERS, UnknownModel, cost, registry
from .events import AssetView
from .forms import BriefForm, GenerateForm
from .live import asset_view
from .models import Asset, Gallery, SavedBrief, Version

PAGE_SIZE = 24


@login_required
def home(request):
    team = current_team(request.user)
    if team is None:
        return redirect("accounts:team_create")
    return redirect("studio:gallery", gallery_id=Gallery.default_for(team).pk)


def _gallery(request, gallery_id, action=Action.VIEW) -> Gallery:
    return get_for(request.user, Gallery.objects.select_related("team"), action, pk=gallery_id)


def _asset_cards(gallery: Gallery) -> list[AssetView]:
    assets = (
        Asset.objects.filter(gallery=gallery, current_version__isnull=False)
        .select_related("current_version", "created_by")
        .order_by("-updated_at", "-id")[:PAGE_SIZE]
    )
    return [
        asset_view(
            asset,
            asset.current_version,
            new_asset=False,
            created_by=asset.created_by.username if asset.created_by else "",
        )
        for asset in assets
    ]


def _model_groups():
    by_tier = {key: [] for key in TIERS}
    for choice in lineup.choices():
        by_tier[choice.spec.tier].append(choice)
    return [(TIERS[key], choices) for key, choices in by_tier.items() if choices]


@login_required
def gallery(request, gallery_id):
    gallery = _gallery(request, gallery_id)
    default = lineup.default_model()
    context = {
        "gallery": gallery,
        "team": gallery.team,
        "can_create": can(request.user, Action.CREATE, gallery.team),
        "form": BriefForm(),
        "brief_field_names": FIELDS,
        "presets": PRESETS,
        "saved_briefs": SavedBrief.objects.filter(team=gallery.team),
        "model_groups": _model_groups(),
        "default_model": default,
        "ratios": list(RATIOS),
        "qualities": _all_qualities(),
        "max_images": jobs.MAX_IMAGES,
        "assets": _asset_cards(gallery),
    }
    return render(request, "studio/gallery.html", context)


def _all_qualities() -> list[str]:
    seen: list[str] = []
    for spec in registry().all():
        for quality in spec.qualities:
            if quality not in seen:
                seen.append(quality)
    return seen


@dataclass
class Feedback:
    prompt: str
    findings_by_field: list
    model: object
    model_note: str
    cost: int
    balance: int
    engine: str


def _feedback(data, team: Team) -> Feedback:
    form = BriefForm(data)
    form.is_valid()
    brief = Brief.from_mapping(form.cleaned_data)
    try:
        spec = registry().get(data.get("model", ""))
    except UnknownModel:
        spec = lineup.default_model()
    findings = check_brief(brief, max_prompt_chars=spec.max_prompt_chars)
    by_field = {name: [] for name in FIELDS}
    for finding in findings:
        by_field.setdefault(finding.field if finding.field in by_field else "subject", []).append(
            finding
        )
    quality = data.get("quality") if data.get("quality") in spec.qualities else spec.qualities[0]
    ratio = data.get("aspect_ratio") if data.get("aspect_ratio") in RATIOS else "1:1"
    try:
        n = min(max(int(data.get("n", 1)), 1), jobs.MAX_IMAGES)
    except (TypeError, ValueError):
        n = 1
    return Feedback(
        prompt=compose_prompt(brief),
        findings_by_field=list(by_field.items()),
        model=spec,
        model_note=lineup.check_usable(spec) or "",
        cost=cost(spec, quality, ratio, n),
        balance=team.credit_balance,
        engine=spec.engine,
    )


@login_required
@require_POST
def brief_feedback(request, gallery_id):
    gallery = _gallery(request, gallery_id)
    return render(
        request,
        "studio/gallery.html#brief_feedback",
        {"feedback": _feedback(request.POST, gallery.team)},
    )


@login_required
@require_GET
def brief_fields(request, gallery_id):
    """The brief's fields filled from an example or a saved brief."""
    gallery = _gallery(request, gallery_id)
    choice = request.GET.get("preset", "")
    brief = Brief("")
    if choice.startswith("preset:"):
        with contextlib.suppress(KeyError):
            brief = get_preset(choice.removeprefix("preset:")).brief
    elif choice.startswith("saved:"):
        saved_id = _uuid_or_none(choice.removeprefix("saved:"))
        saved = (
            SavedBrief.objects.filter(team=gallery.team, pk=saved_id).first() if saved_id else None
        )
        if saved:
            brief = Brief.from_mapping(saved.brief)
    form = BriefForm(initial=brief.as_dict())
    return render(
        request,
        "studio/gallery.html#brief_fields",
        {"form": form, "brief_field_names": FIELDS},
    )


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@login_required
@require_POST
def submit(request, gallery_id):
    gallery = _gallery(request, gallery_id, Action.CREATE)
    form = GenerateForm(request.POST)
    context = {"gallery": gallery}
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        label = (
            form.fields[field].label or field.replace("_", " ").capitalize()
            if field in form.fields
            else ""
        )
        context["submit_error"] = f"{label}: {errors[0]}" if label else errors[0]
    else:
        data = form.cleaned_data
        request_ = jobs.JobRequest(
            brief=form.brief(),
            model=data["model"],
            aspect_ratio=data["aspect_ratio"],
            quality=data["quality"],
            n=data["n"],
        )
        try:
            job = jobs.submit(request.user, gallery, request_)
        except jobs.SubmitError as error:
            context["submit_error"] = error.message
        else:
            context["submitted"] = job
            gallery.team.refresh_from_db(fields=["credit_balance"])
            context["balance"] = gallery.team.credit_balance
    if not request.htmx:
        if "submit_error" in context:
            messages.error(request, context["submit_error"])
        else:
            messages.success(request, "Queued.")
        return redirect("studio:gallery", gallery_id=gallery.pk)
    return render(request, "studio/gallery.html#submit_result", context)


@login_required
@require_POST
def save_brief(request, gallery_id):
    gallery = _gallery(request, gallery_id, Action.CREATE)
    form = BriefForm(request.POST)
    name = request.POST.get("name", "").strip()[:80]
    if form.is_valid() and name and form.brief().subject:
        SavedBrief.objects.create(
            team=gallery.team, name=name, brief=form.brief().as_dict(), created_by=request.user
        )
        messages.success(request, f"Brief “{name}” saved for the team.")
    else:
        messages.error(request, "Give the brief a name and a subject to save it.")
    return redirect("studio:gallery", gallery_id=gallery.pk)


@login_required
@require_GET
def version_file(request, version_id, kind):
    if kind not in files.KINDS:
        from django.http import Http404

        raise Http404("No such file.")
    version = get_for(request.user, Version.objects.select_related("asset"), pk=version_id)
    return files.file_response(version, kind, download=request.GET.get("download") == "1")


@require_GET
def signed_file(request, token):
    """A time-limited link from the API: the signature is the permission."""
    version, kind = files.version_from_token(token)
    return files.file_response(version, kind, download=True)
