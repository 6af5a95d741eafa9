"""Iterating on a version: variations, upscales, promotion to a better model, refining.

Each tool queues a Job through jobs.submit, so credits, live cards and the worker work
as for a fresh generation, and the results land in the source's asset with the source
as their parent. Masked edits have their own module (edits.py).

Costs: variations and promotions cost what the model charges for a new image (a
promotion also pays for the draft sent as its input image); an upscale calls no engine
and costs a flat jobs.UPSCALE_CREDITS, whatever the factor.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string
from PIL import Image

from accounts.models import User
from accounts.permissions import Action, checked

from . import imaging, lineup, versions
from .briefs import FIELDS, Brief, compose_prompt
from .catalog import UnknownModel, cost, registry
from .jobs import MAX_IMAGES, UPSCALE_CREDITS, JobRequest, SubmitError, submit
from .models import Job, Version, VersionKind

UPSCALE_FACTORS = imaging.UPSCALE_FACTORS
MAX_UPSCALE_SIDE = 8192  # a 67-megapixel PNG is already more than any layout needs
PROMOTE_QUALITY = "high"

# Promotion sends the draft as the image to redraw; the prompt says what must survive.
PROMOTE_INSTRUCTION = (
    "Redraw this image at full quality. Keep its composition exactly: the framing, "
    "where each element sits, the direction of the light and the colours."
)


def _check(user: User, version: Version) -> Version:
    """The version, with the rights to make new versions from it (404/403 otherwise). One
    the caller fetched through get_for with those rights is not asked for again, and its
    gallery carries the role on to jobs.submit."""
    version = checked(
        user, version, Action.CREATE, Version.objects.select_related("asset__gallery")
    )
    version.asset.gallery.user_role = version.user_role
    return version


def _prompt(version: Version) -> str:
    """The prompt of the version's brief; for a version made from a raw prompt, that prompt."""
    brief = Brief.from_mapping(version.brief)
    return compose_prompt(brief) if brief.subject else version.prompt


def variations(user: User, version: Version, n: int = 1) -> Job:
    """n new images from the same brief and model with new seeds, in the same asset."""
    version = _check(user, version)
    request = JobRequest(
        brief=Brief.from_mapping(version.brief),
        model=version.model,
        aspect_ratio=version.aspect_ratio,
        quality=version.quality,
        n=n,
        kind=VersionKind.VARIATION,
        source_version=version,
        prompt=_prompt(version),
    )
    return submit(user, version.asset.gallery, request)


def upscale_refusal(version: Version, factor: int) -> str | None:
    """Why this version cannot be enlarged by factor, or None if it can."""
    if factor not in UPSCALE_FACTORS:
        return "Upscale by 2× or 4×."
    width, height = version.width * factor, version.height * factor
    if max(width, height) > MAX_UPSCALE_SIDE:
        return (
            f"{factor}× would make this {version.width}×{version.height} image "
            f"{width}×{height} pixels; the largest side allowed is {MAX_UPSCALE_SIDE} pixels."
        )
    return None


def upscale(user: User, version: Version, factor: int) -> Job:
    """The same frame with factor× the pixels on each side; no engine redraws it."""
    version = _check(user, version)
    refusal = upscale_refusal(version, factor)
    if refusal:
        raise SubmitError("factor", refusal)
    request = JobRequest(
        brief=Brief.from_mapping(version.brief),
        model=version.model,
        aspect_ratio=version.aspect_ratio,
        quality=version.quality,
        kind=VersionKind.UPSCALE,
        seed=version.seed,
        source_version=version,
        params={"factor": factor},
        prompt=version.prompt,
    )
    return submit(user, version.asset.gallery, request)


def upscaler() -> imaging.Upscaler:
    """The configured upscaler (settings.STUDIO_UPSCALER, a dotted path), else resampling."""
    path = getattr(settings, "STUDIO_UPSCALER", "")
    return import_string(path) if path else imaging.resample_upscaler


def enlarge(job: Job) -> Image.Image:
    """The worker's half of an upscale: the source's pixels, enlarged. CPU work."""
    source = versions.open_original(job.source_version)
    factor = int((job.params or {}).get("factor", 2))
    return imaging.upscale(source, factor, max_side=MAX_UPSCALE_SIDE, upscaler=upscaler())


def promote_targets(version: Version, gone: frozenset[str] | None = None) -> list:
    """Models a version can be promoted to: those that edit, except its own, best first."""
    rank = {"best": 0, "balanced": 1, "editing": 2, "draft": 3}
    choices = [
        choice
        for choice in lineup.choices(gone)
        if choice.spec.can("edit") and choice.spec.key != version.model
    ]
    return sorted(choices, key=lambda choice: (not choice.selectable, rank[choice.spec.tier]))


def promote_quality(spec) -> str:
    return PROMOTE_QUALITY if PROMOTE_QUALITY in spec.qualities else spec.qualities[0]


def promote(user: User, version: Version, model: str) -> Job:
    """Redraw a draft on another (better) model, sending the draft as the image so the
    composition survives. No mask: the whole frame is redrawn."""
    version = _check(user, version)
    try:
        spec = registry().get(model)
    except UnknownModel:
        raise SubmitError("model", f"There is no model called “{model}”.") from None
    if spec.key == version.model:
        raise SubmitError("model", f"This version was made with {spec.label}; pick another model.")
    if not spec.can("edit"):
        raise SubmitError("model", f"{spec.label} cannot redraw an image; pick another model.")
    prompt = f"{_prompt(version)} {PROMOTE_INSTRUCTION}"
    request = JobRequest(
        brief=Brief.from_mapping(version.brief),
        model=spec.key,
        aspect_ratio=version.aspect_ratio,
        quality=promote_quality(spec),
        kind=VersionKind.PROMOTE,
        source_version=version,
        prompt=prompt,
    )
    return submit(user, version.asset.gallery, request)


def refine_brief(version: Version) -> tuple[str, str]:
    """(What changes, What must stay) to prefill the edit form when refining a version.

    A masked edit is refined from its own words; anything else from its brief: the
    subject is what to rework, and frame, lighting and style are what must stay.
    """
    params = version.job.params if version.job_id and version.job else {}
    if version.kind == VersionKind.EDIT and params.get("change"):
        return params["change"], params.get("keep", "")
    brief = Brief.from_mapping(version.brief)
    keep = [getattr(brief, name) for name in FIELDS if name != "subject"]
    return brief.subject, ". ".join(part.rstrip(" .") for part in keep if part)


# --- what the iteration controls offer ---------------------------------------------------


@dataclass(frozen=True)
class UpscaleOption:
    factor: int
    width: int
    height: int
    refusal: str | None


@dataclass(frozen=True)
class PromoteOption:
    key: str
    label: str
    cost: int
    selectable: bool
    note: str


@dataclass(frozen=True)
class Options:
    """The choices and prices the iteration controls show for one version."""

    variation_cost: int | None  # per image; None when the version's model cannot run now
    variation_note: str
    max_variations: int
    upscales: list[UpscaleOption]
    upscale_credits: int
    promotions: list[PromoteOption]
    promote_note: str  # why nothing can be picked, when nothing can


def options(version: Version) -> Options:
    gone = lineup.unavailable()  # one query serves the variation note and the promotions
    variation_cost, variation_note = None, ""
    try:
        spec = registry().get(version.model)
    except UnknownModel:
        variation_note = "The model of this version is no longer known to the studio."
    else:
        variation_note = lineup.check_usable(spec, gone) or ""
        if not variation_note and version.quality in spec.qualities:
            variation_cost = cost(spec, version.quality, version.aspect_ratio, 1)
    promotions = []
    for choice in promote_targets(version, gone):
        spec = choice.spec
        price = cost(spec, promote_quality(spec), version.aspect_ratio, 1, references=1)
        promotions.append(
            PromoteOption(spec.key, spec.label, price, choice.selectable, choice.note)
        )
    return Options(
        variation_cost=variation_cost,
        variation_note=variation_note,
        max_variations=MAX_IMAGES,
        upscales=[
            UpscaleOption(
                factor,
                version.width * factor,
                version.height * factor,
                upscale_refusal(version, factor),
            )
            for factor in UPSCALE_FACTORS
        ],
        upscale_credits=UPSCALE_CREDITS,
        promotions=promotions,
        promote_note=_promote_note(promotions),
    )


def _promote_note(promotions: list[PromoteOption]) -> str:
    if any(option.selectable for option in promotions):
        return ""
    notes = [option.note for option in promotions if option.note]
    return notes[0] if notes else "No other model can redraw this version."
