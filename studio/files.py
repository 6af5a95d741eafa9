"""Serving stored files only to those allowed to see them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect

from .models import Version

KINDS = {"original": "image", "thumb": "thumbnail", "mask": "mask"}
CONTENT_TYPES = {"original": "image/png", "thumb": "image/webp", "mask": "image/png"}


def download_name(version: Version) -> str:
    """A file name (without extension) from the asset's title: letters, digits, - and _
    only, so no title can break the Content-Disposition header; then the version's id."""
    title = "".join(c if c.isalnum() or c in "-_ " else "" for c in version.asset.title[:40])
    return f"{title.strip().replace(' ', '-') or 'image'}-{str(version.pk)[:8]}"


def file_response(version: Version, kind: str, *, download: bool = False):
    field = getattr(version, KINDS[kind])
    if not field.name:
        raise Http404("No such file.")
    filename = f"{download_name(version)}.png"
    if settings.S3_BUCKET:
        # Private bucket: hand out a short-lived signed URL instead of proxying bytes.
        params = (
            {"ResponseContentDisposition": f'attachment; filename="{filename}"'}
            if download
            else None
        )
        return HttpResponseRedirect(default_storage.url(field.name, parameters=params))
    response = FileResponse(
        default_storage.open(field.name),
        content_type=CONTENT_TYPES[kind],
        as_attachment=download,
        filename=filename if download else None,
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


SIGNER_SALT = "studio.files"


def signed_url(request, version: Version, kind: str = "original") -> str:
    """A download link that works without a session for a few minutes: a presigned S3 URL,
    or for local files a URL carrying a signed, expiring token."""
    field = getattr(version, KINDS[kind])
    if settings.S3_BUCKET:
        return default_storage.url(field.name)
    from django.core import signing
    from django.urls import reverse

    token = signing.TimestampSigner(salt=SIGNER_SALT).sign_object({"v": str(version.pk), "k": kind})
    return request.build_absolute_uri(reverse("studio:signed_file", args=[token]))


def version_from_token(token: str) -> tuple[Version, str]:
    from django.core import signing

    try:
        data = signing.TimestampSigner(salt=SIGNER_SALT).unsign_object(
            token, max_age=settings.STUDIO_SIGNED_URL_SECONDS
        )
        version = Version.objects.select_related("asset").get(pk=data["v"])
    except (
        signing.BadSignature,
        Version.DoesNotExist,
        KeyError,
        ValueError,
        TypeError,  # a signed value of another shape than ours
        ValidationError,
    ) as error:
        raise Http404("This link is invalid or has expired.") from error
    if data.get("k") not in KINDS:
        raise Http404("This link is invalid or has expired.")
    return version, data["k"]
