"""Turning an engine's final image into stored files and a Version row."""

import asyncio
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
# Engines return at most 4K images; anything far beyond that is not an image we asked for.
MAX_PIXELS = 80_000_000


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
        img = imaging.open_image(image, max_pixels=MAX_PIXELS)
    delivered = as_delivered(image, final_size, restore)
    if img.size != final_size:
        img = imaging.center_crop(img, *final_size)
    if restore is not None:
        img = restore(img)
    original = imaging.png_with_metadata(delivered or imaging.encode_png(img), _metadata(job))
    return PreparedFiles(
        original=original,
        thumbnail=imaging.webp_rendition(img, THUMBNAIL_SIDE),
        checksum=imaging.sha256_hex(original),
        width=img.width,
        height=img.height,
    )


def as_delivered(image, final_size: tuple[int, int], restore=None) -> bytes | None:
    """An engine's PNG that needs no crop or restore keeps its compressed pixels as they
    came, with its metadata dropped (see docs/benchmarks.md, image work); None otherwise.
    Reads chunks and the header only: no pixel is decoded here."""
    if not isinstance(image, bytes) or restore is not None:
        return None
    try:
        if imaging.image_size(image) != final_size:
            return None
    except imaging.ImageRejected:
        return None  # decoding reports what is wrong with it
    return imaging.bare_png(image)


def _metadata(job: Job) -> dict[str, str]:
    return {
        "studio:brief": json.dumps(job.brief, ensure_ascii=False),
        "studio:prompt": job.prompt,
        "studio:model": job.model,
        "Description": job.prompt,
        "Software": "Studio",
    }


def upload(team_id, files: PreparedFiles) -> tuple[str, str]:
    """Write both files to storage (local or S3); returns their storage names."""
    stem = uuid.uuid4().hex
    original = _save_original(team_id, stem, files.original)
    try:
        return original, _save_thumbnail(team_id, stem, files.thumbnail)
    except BaseException:
        discard(original)  # no file without a version
        raise


def _save_original(team_id, stem: str, data: bytes) -> str:
    return default_storage.save(f"teams/{team_id.hex}/originals/{stem}.png", ContentFile(data))


def _save_thumbnail(team_id, stem: str, data: bytes) -> str:
    return default_storage.save(f"teams/{team_id.hex}/thumbs/{stem}.webp", ContentFile(data))


async def prepare_and_upload(
    job: Job, image: bytes | Image.Image, final_size: tuple[int, int], restore=None
) -> tuple[PreparedFiles, tuple[str, str]]:
    """prepare() and upload(), off the event loop.

    An engine PNG kept as delivered needs no decoded pixels for its original, so that
    file is finished and written while a second thread decodes (and so checks) the
    pixels and draws the thumbnail: the decode no longer waits for the original's
    upload, nor the upload for the decode. If either fails, the other's file is removed."""
    delivered = await asyncio.to_thread(as_delivered, image, final_size, restore)
    if delivered is None:
        files = await asyncio.to_thread(prepare, job, image, final_size, restore)
        return files, await asyncio.to_thread(upload, job.team_id, files)
    stem = uuid.uuid4().hex

    def store_original():
        original = imaging.png_with_metadata(delivered, _metadata(job))
        return original, imaging.sha256_hex(original), _save_original(job.team_id, stem, original)

    def store_thumbnail():
        img = imaging.open_image(image, max_pixels=MAX_PIXELS)
        thumbnail = imaging.webp_rendition(img, THUMBNAIL_SIDE)
        return thumbnail, img.size, _save_thumbnail(job.team_id, stem, thumbnail)

    outcomes = await asyncio.gather(
        asyncio.to_thread(store_original),
        asyncio.to_thread(store_thumbnail),
        return_exceptions=True,
    )
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        await asyncio.to_thread(
            discard, *(outcome[2] for outcome in outcomes if isinstance(outcome, tuple))
        )
        raise failures[0]
    (original, checksum, original_name), (thumbnail, size, thumbnail_name) = outcomes
    files = PreparedFiles(original, thumbnail, checksum, *size)
    return files, (original_name, thumbnail_name)


def discard(*names: str) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def title_for(job: Job) -> str:
    subject = (job.brief or {}).get("subject") or job.prompt
    return subject[:200]


def record(
    job: Job,
    slot: int,
    files: PreparedFiles,
    names: tuple[str, str],
    requested: tuple[int, int],
    duration_ms: int,
) -> tuple[Asset, Version] | None:
    """Create the Version (and for a fresh generation its Asset). None if the slot is
    stored already, which happens when a job is retried after a worker died mid-way: the
    unique (job, slot) constraint refuses it and nothing of this call is kept."""
    try:
        with transaction.atomic():
            asset = _asset_for(job)
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
            asset.current_version = version
            asset.save(update_fields=["current_version", "updated_at"])
            return asset, version
    except IntegrityError:
        return None


def _asset_for(job: Job) -> Asset:
    """A fresh generation starts an asset; every other kind adds to its source's."""
    if job.asset_id is None:
        return Asset.objects.create(
            team_id=job.team_id,
            gallery_id=job.gallery_id,
            title=title_for(job),
            created_by_id=job.created_by_id,
        )
    return Asset.objects.select_for_update().get(pk=job.asset_id)


def open_original(version: Version) -> Image.Image:
    with default_storage.open(version.image.name) as handle:
        return imaging.open_image(handle.read(), max_pixels=MAX_PIXELS)
