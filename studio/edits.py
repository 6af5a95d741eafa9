"""Masked edits: validate the painted mask and references, store them, queue the job;
and, when the job runs, give the engine its inputs at a size the model accepts.

The browser paints white where the image should change. The engine gets OpenAI's form
(an RGBA PNG, transparent where to edit). After the engine returns, jobs.run puts back
every pixel outside the painted mask (see imaging.restore_outside_mask).
"""

import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404
from PIL import Image

from accounts.models import User
from accounts.permissions import Action, checked, visible_to

from . import imaging, versions
from .briefs import Brief, compose_edit_prompt
from .catalog import UnknownModel, plan_size, registry
from .jobs import JobRequest, SubmitError, submit
from .models import Job, Version, VersionKind

MAX_CHANGE = 4000


@dataclass
class EditRequest:
    change: str
    mask: bytes
    model: str
    keep: str = ""
    quality: str = "medium"
    uploaded_references: list[bytes] = field(default_factory=list)
    reference_versions: list[str] = field(default_factory=list)  # version ids
    keep_outside_mask: bool = True
    feather: int = 8


def _store(team_id, folder: str, data: bytes, suffix: str = "png") -> str:
    return default_storage.save(
        f"teams/{team_id.hex}/{folder}/{uuid.uuid4().hex}.{suffix}", ContentFile(data)
    )


def _reference_images(user: User, ids: list[str]) -> list[str]:
    """The images of the chosen reference versions, in one query. Another team's version
    (or a forged id) answers 404, like any object the user may not see."""
    try:
        wanted = [uuid.UUID(str(value)) for value in ids]
    except ValueError as error:
        raise Http404("No such item.") from error
    images = dict(
        visible_to(user, Version.objects.filter(pk__in=wanted)).values_list("pk", "image")
    )
    if any(pk not in images for pk in wanted):
        raise Http404("No such item.")
    return [images[pk] for pk in wanted]


def submit_edit(user: User, version: Version, edit: EditRequest) -> Job:
    """Check everything first; store inputs and charge only when all of it is good."""
    version = checked(user, version, Action.CREATE)
    change = edit.change.strip()
    if not change:
        raise SubmitError("change", "Say what should change inside the painted area.")
    if len(change) > MAX_CHANGE or len(edit.keep) > MAX_CHANGE:
        raise SubmitError("change", f"Keep each description under {MAX_CHANGE} characters.")
    try:
        spec = registry().get(edit.model)
    except UnknownModel:
        raise SubmitError("model", f"There is no model called “{edit.model}”.") from None
    if not spec.can("edit"):
        raise SubmitError("model", f"{spec.label} cannot edit images; pick an editing model.")
    if not 0 <= edit.feather <= 64:
        raise SubmitError("feather", "The soft edge must be between 0 and 64 pixels.")
    references = len(edit.uploaded_references) + len(edit.reference_versions)
    if references > spec.max_references:
        raise SubmitError(
            "references", f"{spec.label} takes at most {spec.max_references} reference images."
        )
    try:
        mask = imaging.load_painted_mask(
            edit.mask, (version.width, version.height), max_bytes=settings.STUDIO_MAX_UPLOAD_BYTES
        )
    except imaging.ImageRejected as error:
        raise SubmitError("mask", error.message) from error
    reference_bytes = []
    for data in edit.uploaded_references:
        try:
            reference_bytes.append(
                imaging.sanitize_upload(
                    data,
                    max_bytes=settings.STUDIO_MAX_UPLOAD_BYTES,
                    max_pixels=settings.STUDIO_MAX_UPLOAD_PIXELS,
                )
            )
        except imaging.ImageRejected as error:
            raise SubmitError("references", error.message) from error
    reference_names = _reference_images(user, edit.reference_versions)

    params = {
        "mask": _store(version.team_id, "masks", imaging.encode_png(mask)),
        "openai_mask": _store(version.team_id, "masks", imaging.to_openai_mask(mask)),
        "references": reference_names
        + [_store(version.team_id, "references", data) for data in reference_bytes],
        "keep_outside_mask": edit.keep_outside_mask,
        "feather": edit.feather,
        "change": change,
        "keep": edit.keep.strip(),
    }
    request = JobRequest(
        brief=Brief.from_mapping(version.brief) if version.brief.get("subject") else Brief(change),
        model=spec.key,
        aspect_ratio=version.aspect_ratio,
        quality=edit.quality,
        kind=VersionKind.EDIT,
        source_version=version,
        params=params,
        prompt=compose_edit_prompt(change, edit.keep),
    )
    gallery = version.asset.gallery
    gallery.user_role = version.user_role  # checked above: submit need not ask again
    try:
        return submit(user, gallery, request)
    except SubmitError:
        versions.discard(
            params["mask"], params["openai_mask"], *params["references"][len(reference_names) :]
        )
        raise


def _pad(img: Image.Image, size: tuple[int, int], fill) -> Image.Image:
    """Centre the image on a canvas of a size the model accepts (the inverse of the crop).

    A source larger than that (an upscaled version) is scaled down to fit first; the
    source and its mask share a size, so both scale alike."""
    if img.size == size:
        return img
    if img.width > size[0] or img.height > size[1]:
        scale = min(size[0] / img.width, size[1] / img.height)
        fitted = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(fitted, Image.Resampling.LANCZOS)
    canvas = Image.new(img.mode, size, fill)
    canvas.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2))
    return canvas


def engine_inputs(job: Job) -> tuple[bytes, bytes | None, list[bytes]]:
    """Source, mask and references for the engine, padded to the model's native size."""
    spec = registry().get(job.model)
    size = plan_size(spec, job.aspect_ratio).requested
    source = versions.open_original(job.source_version)
    params = job.params or {}
    mask_bytes = None
    if params.get("openai_mask"):
        with default_storage.open(params["openai_mask"]) as handle:
            mask = imaging.open_image(handle.read(), formats=("PNG",))
        # Padding is opaque: the model must not draw into the bands that get cropped away.
        mask_bytes = imaging.encode_png(_pad(mask.convert("RGBA"), size, (0, 0, 0, 255)))
    image_bytes = imaging.encode_png(_pad(source.convert("RGB"), size, (0, 0, 0)))
    references = []
    for name in params.get("references", []):
        with default_storage.open(name) as handle:
            references.append(handle.read())
    return image_bytes, mask_bytes, references
