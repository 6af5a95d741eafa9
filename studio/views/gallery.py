"""Pages and htmx endpoints. Thin: check access, call domain functions, render partials."""

import contextlib
import uuid
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.models import Team
from accounts.permissions import Action, get_for, role_allows
from accounts.teams import current_team

from .. import files, gallery_query, jobs, lineup, sharing
from ..briefs import FIELDS, PRESETS, Brief, check_brief, compose_prompt, get_preset
from ..catalog import RATIOS, SCENARIOS, TIERS, UnknownModel, cost, qualities_of, registry
from ..events import AssetView
from ..forms import BriefForm, GenerateForm
from ..gallery_query import GalleryFilter
from ..live import asset_view
from ..models import Gallery, ReviewStatus, SavedBrief, Version


@login_required
def home(request):
    team = current_team(request.user)
    if team is None:
        return redirect("accounts:team_create")
    return redirect("studio:gallery", gallery_id=Gallery.default_for(team).pk)


def _gallery(request, gallery_id, action=Action.VIEW) -> Gallery:
    return get_for(request.user, Gallery.objects.select_related("team"), action, pk=gallery_id)


def _cards(rows) -> list[AssetView]:
    return [
        replace(
            asset_view(
                asset,
                asset.current_version,
                created_by=asset.created_by.username if asset.created_by else "",
            ),
            is_favourite=asset.is_favourite,
        )
        for asset in rows
    ]


def _model_groups(choices):
    by_tier = {key: [] for key in TIERS}
    for choice in choices:
        by_tier[choice.spec.tier].append(choice)
    return [(TIERS[key], choices) for key, choices in by_tier.items() if choices]


def _advice(choices) -> list[dict]:
    """For each thing a designer may care about, the model we propose and why."""
    advice = []
    for scenario in SCENARIOS.values():
        in_tier = [c for c in choices if scenario.tier in c.spec.tiers and c.lifecycle.usable]
        # Prefer a model this studio can run now; else name the one an API key would unlock.
        pick = next((c for c in in_tier if c.selectable), None) or next(iter(in_tier), None)
        if pick is not None:
            advice.append({"scenario": scenario, "choice": pick})
    return advice


@login_required
def gallery(request, gallery_id):
    live_since = timezone.now()  # before any query: the page's socket catches up from here
    gallery = _gallery(request, gallery_id)
    filters = GalleryFilter.from_query(request.GET)
    cursor = request.GET.get("cursor", "")
    rows, next_cursor = gallery_query.page(gallery, request.user, filters, cursor)
    page_context = {
        "gallery": gallery,
        "live_since": live_since,
        "assets": _cards(rows),
        "next_cursor": next_cursor,
        "filter_query": urlencode(filters.as_query()),
        "can_create": role_allows(gallery.user_role, Action.CREATE),
        "filtering": bool(request.GET.get("filtering")),
    }
    if request.htmx and (cursor or request.GET.get("filtering")):
        return render(request, "studio/gallery.html#asset_page", page_context)
    gone = lineup.unavailable()  # one query serves the picker, the advisor and the default
    choices = lineup.choices(gone)
    default = lineup.default_model(gone)
    form = BriefForm(initial=_branch_brief(request, gallery))
    context = {
        **page_context,
        "team": gallery.team,
        # The header shows the team whose credits this page spends: the gallery's.
        "current_team": gallery.team,
        "filters": filters,
        "form": form,
        "brief_field_names": FIELDS,
        "presets": PRESETS,
        "saved_briefs": SavedBrief.objects.filter(team=gallery.team),
        "model_groups": _model_groups(choices),
        "advice": _advice(choices),
        "default_model": default,
        "ratios": list(RATIOS),
        "qualities": qualities_of(registry().all()),
        "max_images": jobs.MAX_IMAGES,
        "galleries": gallery.team.galleries.order_by("archived_at", "name"),
        "members": gallery.team.members.order_by("username"),
        "statuses": ReviewStatus.choices,
        "expiry_choices": sharing.EXPIRY_LABELS,
        "models_in_use": [(spec.key, spec.label) for spec in registry().all()],
        "since_choices": [
            ("", "Any time"),
            ("day", "Last day"),
            ("week", "Last 7 days"),
            ("month", "Last 30 days"),
        ],
    }
    return render(request, "studio/gallery.html", context)


def _branch_brief(request, gallery) -> dict:
    """Starting a new branch from a version opens the form with its brief."""
    version_id = _uuid_or_none(request.GET.get("from", ""))
    if version_id is None:
        return {}
    version = Version.objects.filter(pk=version_id, team=gallery.team).first()
    return dict(version.brief) if version else {}


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
    response = render(
        request,
        "studio/gallery.html#brief_fields",
        {"form": form, "brief_field_names": FIELDS},
    )
    # The preview must be recomputed from the new fields, not from the input
    # event the select fired while the old ones were still on the page.
    return trigger_client_event(response, "brief-replaced", after="settle")


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
            context["balance"] = gallery.team.credit_balance  # submit() updated it
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
    context = {"gallery": gallery}
    if form.is_valid() and name and form.brief().subject:
        SavedBrief.objects.create(
            team=gallery.team, name=name, brief=form.brief().as_dict(), created_by=request.user
        )
        context["saved_name"] = name
    else:
        context["submit_error"] = "Give the brief a name and a subject to save it."
    if request.htmx:
        return render(request, "studio/gallery.html#submit_result", context)
    if "saved_name" in context:
        messages.success(request, f"Brief “{name}” saved for the team.")
    else:
        messages.error(request, context["submit_error"])
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


@login_required
@require_POST
def gallery_create(request, gallery_id):
    current = _gallery(request, gallery_id, Action.CREATE)
    name = _posted_name(request)
    if not name:
        messages.error(request, "Give the new gallery a name.")
        return redirect("studio:gallery", gallery_id=current.pk)
    gallery = Gallery.objects.create(team=current.team, name=name, created_by=request.user)
    messages.success(request, f"Gallery “{name}” created.")
    return redirect("studio:gallery", gallery_id=gallery.pk)


@login_required
@require_POST
def gallery_rename(request, gallery_id):
    gallery = _gallery(request, gallery_id, Action.CREATE)
    name = _posted_name(request)
    if not name:
        messages.error(request, "A gallery needs a name.")
    else:
        gallery.name = name
        gallery.save(update_fields=["name"])
        messages.success(request, "Gallery renamed.")
    return redirect("studio:gallery", gallery_id=gallery.pk)


def _posted_name(request) -> str:
    """A gallery's name from a form: trimmed, at most the 80 characters the field holds."""
    return request.POST.get("name", "").strip()[: Gallery._meta.get_field("name").max_length]


@login_required
@require_POST
def gallery_archive(request, gallery_id):
    gallery = _gallery(request, gallery_id, Action.CREATE)
    if gallery.archived_at:
        gallery.archived_at = None
        messages.success(request, f"“{gallery.name}” is back among the team's galleries.")
    else:
        gallery.archived_at = timezone.now()
        messages.success(request, f"“{gallery.name}” archived. Nothing was deleted.")
    gallery.save(update_fields=["archived_at"])
    return redirect("studio:gallery", gallery_id=gallery.pk)
