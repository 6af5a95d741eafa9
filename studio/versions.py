"""Turning an engine's final image into stored files and a Version row."""

import json
import uuid
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image

from . import imaging
from .models import Asset, Job, Version, VersionKind

THUMBNAIL_SIDE = 512


@dataclass(frozen=True)
class PreparedFiles:
    """The files of one version, ready to store: no database work done yet."""

    original: bytes
    thumbnail: bytes
    checksum: str
    width: int
    height: int


def prepare(
    job: Job, image: bytes | Image.Image, final_size: tuple[int, int], restore=None
) -> PreparedFiles:
    """Crop to the exact ratio, apply the edit's keep-area, embed the brief, make a thumbnail.

    Takes an engine's image as bytes, or pixels made here (an upscale) as an image.
    CPU work only, so the worker runs it in a thread."""
    if isinstance(image, Image.Image):
        img = image
    else:
        img = imaging.open_image(image, max_pixels=80_000_000)
    # An engine's PNG that needs no crop or restore keeps its compressed pixels as they
    # came; only its metadata is replaced (see docs/benchmarks.md, image work).
    as_delivered = (
        imaging.bare_png(image)
        if isinstance(image, bytes) and img.size == final_size and restore is None
        else None
    )
    if img.size != final_size:
        img = imaging.center_crop(img, *final_size)
    if restore is not None:
        img = restore(img)
    metadata = {
        "studio:brief": json.dumps(job.brief, ensure_ascii=False),
        "studio:prompt": job.prompt,
        "studio:model": job.model,
        "Description": job.prompt,
        "Software": "Studio",
    }
    original = imaging.png_with_metadata(as_delivered or imaging.encode_png(img), metadata)
    return PreparedFiles(
        original=original,
        thumbnail=imaging.webp_rendition(img, THUMBNAIL_SIDE),
        checksum=imaging.sha256_hex(original),
        width=img.width,
        height=img.height,
    )


def upload(team_id, files: PreparedFiles) -> tuple[str, str]:
    """Write both files to storage (local or S3); returns their storage names."""
    stem = uuid.uuid4().hex
    original = default_storage.save(
        f"teams/{team_id.hex}/originals/{stem}.png", ContentFile(files.original)
    )
    thumbnail = default_storage.save(
        f"teams/{team_id.hex}/thumbs/{stem}.webp", ContentFile(files.thumbnail)
    )
    return original, thumbnail


def discard(*names: str) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def title_for(job: Job) -> str:
    subject = (job.brief or {}).get("subject") or job.prompt
    return subject[:200]


@transaction.atomic
def record(
    job: Job,
    slot: int,
    files: PreparedFiles,
    names: tuple[str, str],
    requested: tuple[int, int],
    duration_ms: int,
) -> tuple[Asset, Version, bool] | None:
    """Create the Version (and for a fresh generation its Asset). None if the slot exists,
    which happens when a job is retried after a worker died mid-way."""
    if Version.objects.filter(job=job, slot=slot).exists():
        return None
    new_asset = job.asset_id is None
    if new_asset:
        asset = Asset.objects.create(
            team_id=job.team_id,
            gallery_id=job.gallery_id,
            title=title_for(job),
            created_by_id=job.created_by_id,
        )
    else:
        asset = Asset.objects.select_for_update().get(pk=job.asset_id)
    try:
        with transaction.atomic():
            version = Version.objects.create(
                team_id=job.team_id,
                asset=asset,
                parent_id=job.source_version_id,
                job=job,
                slot=slot,
                kind=job.kind if job.kind else VersionKind.GENERATE,
                brief=job.brief,
                prompt=job.prompt,
                model=job.model,
                quality=job.quality,
                aspect_ratio=job.aspect_ratio,
                seed=job.seed + slot,
                cost=job.cost // max(job.n, 1),
                requested_width=requested[0],
                requested_height=requested[1],
                width=files.width,
                height=files.height,
                image=names[0],
                thumbnail=names[1],
                mask=(job.params or {}).get("mask", ""),
                checksum=files.checksum,
                duration_ms=duration_ms,
                created_by_id=job.created_by_id,
            )
    except IntegrityError:
        return None
    asset.current_version = version
    asset.save(update_fields=["current_version", "updated_at"])
    return asset, version, new_asset


def open_original(version: Version) -> Image.Image:
    with default_storage.open(version.image.name) as handle:
        return imaging.open_image(handle.read(), max_pixels=80_000_000)
