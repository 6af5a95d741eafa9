"""The JSON API at /api/v1/ (django-ninja, OpenAPI at /api/v1/docs), with personal tokens.

Same rules as the pages: jobs.submit() validates and charges, permissions.get_for()
checks every object against the caller's team role.
"""

from typing import Annotated, Literal
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.errors import HttpError, Throttled, ValidationError
from ninja.security import HttpBearer

from accounts.models import ApiToken
from accounts.permissions import Action, get_for
from accounts.teams import current_team
from accounts.throttle import ScopeThrottle

from . import files, jobs
from .briefs import Brief, check_brief, compose_prompt
from .catalog import UnknownModel, registry
from .forms import MAX_FIELD
from .lineup import choices, default_model
from .models import Asset, Gallery, Job, Version


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Studio API",
    version="1",
    urls_namespace="api",
    auth=TokenAuth(),
    description="Generate images from visual briefs and follow the jobs.",
)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    detail = [
        {
            "field": ".".join(
                str(part) for part in error["loc"] if part not in ("body", "payload")
            ),
            "message": error["msg"],
        }
        for error in exc.errors
    ]
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(jobs.SubmitError)
def submit_error(request, exc: jobs.SubmitError):
    return api.create_response(
        request, {"detail": [{"field": exc.field, "message": exc.message}]}, status=exc.status
    )


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(PermissionDenied)
def forbidden(request, exc):
    # Without this, ninja re-raises: an HTML 403 in production, a 500 under DEBUG.
    message = str(exc) or "Your role in this team does not allow that."
    return api.create_response(request, {"detail": message}, status=403)


@api.exception_handler(Throttled)
def throttled(request, exc: Throttled):
    wait = f" Wait {max(1, round(exc.wait))} seconds and try again." if exc.wait else ""
    return api.create_response(request, {"detail": f"Too many requests.{wait}"}, status=429)


class BriefIn(Schema):
    subject: str = Field(..., max_length=MAX_FIELD)
    frame: str = Field("", max_length=MAX_FIELD)
    lighting: str = Field("", max_length=MAX_FIELD)
    style: str = Field("", max_length=MAX_FIELD)
    finish: str = Field("", max_length=MAX_FIELD)

    def to_brief(self) -> Brief:
        return Brief.from_mapping(self.model_dump())


class JobIn(Schema):
    brief: BriefIn
    model: str | None = Field(None, max_length=64)
    aspect_ratio: Literal["1:1", "16:9", "9:16"] = "1:1"
    quality: str | None = Field(None, max_length=12)
    n: int = Field(1, ge=1, le=jobs.MAX_IMAGES)
    gallery: UUID | None = None


class JobAccepted(Schema):
    id: UUID
    status: str
    cost: int


class VersionOut(Schema):
    id: UUID
    width: int
    height: int
    download_url: str


class JobOut(Schema):
    id: UUID
    status: str
    progress: float
    error: str
    versions: list[VersionOut]


class FindingOut(Schema):
    field: str
    severity: str
    code: str
    hint: str


class CheckOut(Schema):
    prompt: str
    findings: list[FindingOut]


class Detail(Schema):
    detail: list[dict] | str


def _version_out(request, version: Version) -> dict:
    return {
        "id": version.pk,
        "width": version.width,
        "height": version.height,
        "download_url": files.signed_url(request, version),
    }


@api.post(
    "/jobs",
    response={
        202: JobAccepted,
        400: Detail,
        402: Detail,
        403: Detail,
        404: Detail,
        409: Detail,
        429: Detail,
    },
    throttle=[ScopeThrottle("generate", key="user")],
)
def create_job(request, payload: JobIn):
    """Queue a generation. Send an Idempotency-Key header to make retries safe."""
    if payload.gallery:
        gallery = get_for(request.user, Gallery.objects.all(), Action.CREATE, pk=payload.gallery)
    else:
        team = current_team(request.user)
        if team is None:
            raise HttpError(400, "You have no team.")
        gallery = Gallery.default_for(team)
    model = payload.model or default_model().key
    try:
        spec = registry().get(model)
    except UnknownModel:
        raise jobs.SubmitError("model", f"There is no model called “{model}”.") from None
    quality = payload.quality or ("medium" if "medium" in spec.qualities else spec.qualities[0])
    request_ = jobs.JobRequest(
        brief=payload.brief.to_brief(),
        model=model,
        aspect_ratio=payload.aspect_ratio,
        quality=quality,
        n=payload.n,
        idempotency_key=_idempotency_key(request),
    )
    job = jobs.submit(request.user, gallery, request_)
    return Status(202, {"id": job.pk, "status": job.status, "cost": job.cost})


def _idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "")[:200]
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        # Stored as text: PostgreSQL refuses NUL, and no client needs control characters.
        raise jobs.SubmitError("idempotency_key", "The Idempotency-Key has control characters.")
    return key


@api.get("/jobs/{job_id}", response={200: JobOut, 404: Detail})
def get_job(request, job_id: UUID):
    job = get_for(request.user, Job.objects.all(), pk=job_id)
    versions = job.versions.select_related("asset").order_by("slot")
    return {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "error": job.error,
        "versions": [_version_out(request, version) for version in versions],
    }


@api.post("/briefs/check", response=CheckOut)
def check(request, brief: BriefIn):
    """The composed prompt and the checker's findings. Free of charge."""
    parsed = brief.to_brief()
    findings = check_brief(parsed)
    return {"prompt": compose_prompt(parsed), "findings": [f.__dict__ for f in findings]}


class AssetOut(Schema):
    id: UUID
    title: str
    review_status: str
    current_version: VersionOut | None


@api.get("/galleries/{gallery_id}/assets", response={200: list[AssetOut], 404: Detail})
def list_assets(request, gallery_id: UUID, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    gallery = get_for(request.user, Gallery.objects.all(), pk=gallery_id)
    assets = (
        Asset.objects.filter(gallery=gallery, current_version__isnull=False)
        .select_related("current_version__asset")
        .order_by("-updated_at", "-id")[:limit]
    )
    return [
        {
            "id": asset.pk,
            "title": asset.title,
            "review_status": asset.review_status,
            "current_version": _version_out(request, asset.current_version),
        }
        for asset in assets
    ]


class VersionDetail(VersionOut):
    asset: UUID
    parent: UUID | None
    kind: str
    brief: dict
    prompt: str
    model: str
    quality: str
    aspect_ratio: str
    seed: int
    cost: int
    thumbnail_url: str


@api.get("/versions/{version_id}", response={200: VersionDetail, 404: Detail})
def get_version(request, version_id: UUID):
    version = get_for(request.user, Version.objects.select_related("asset"), pk=version_id)
    return {
        **_version_out(request, version),
        "asset": version.asset_id,
        "parent": version.parent_id,
        "kind": version.kind,
        "brief": version.brief,
        "prompt": version.prompt,
        "model": version.model,
        "quality": version.quality,
        "aspect_ratio": version.aspect_ratio,
        "seed": version.seed,
        "cost": version.cost,
        "thumbnail_url": files.signed_url(request, version, "thumb"),
    }


class ModelOut(Schema):
    key: str
    label: str
    engine: str
    tiers: list[str]
    qualities: list[str]
    credits: dict[str, list[int]]
    best_for: str
    status: str
    shutdown: str | None
    successor: str | None
    usable: bool
    note: str


@api.get("/models", response=list[ModelOut])
def list_models(request):
    """Every model with its credits per image (square, non-square) and its lifecycle."""
    return [
        {
            "key": c.spec.key,
            "label": c.spec.label,
            "engine": c.spec.engine,
            "tiers": list(c.spec.tiers),
            "qualities": list(c.spec.qualities),
            "credits": {q: list(v) for q, v in c.spec.credits.items()},
            "best_for": c.spec.best_for,
            "status": c.lifecycle.status,
            "shutdown": c.lifecycle.shutdown.isoformat() if c.lifecycle.shutdown else None,
            "successor": c.lifecycle.successor,
            "usable": c.selectable,
            "note": c.note,
        }
        for c in choices()
    ]
