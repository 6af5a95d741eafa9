"""Stored files (originals, thumbnails, masks, references) are reached only through
permission checks or a signed link that expires; share links show images, never masks.

The authorization sweep tries every file URL with every role; this module checks the
links themselves: their lifetime, their signature, and where files are not served.
"""

import time
import urllib.parse
import uuid

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client

from accounts.models import ApiToken
from studio import files

from .world import build_world

pytestmark = pytest.mark.django_db(transaction=True)

# On S3 the links are the bucket's own presigned URLs (see the s3 test at the end).
local_links = pytest.mark.skipif(
    bool(settings.S3_BUCKET), reason="local files: S3 hands out presigned URLs"
)


@pytest.fixture
def world(cast):
    return build_world(cast.owner, cast.team, cast.editor)


def local_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class _Request:
    def build_absolute_uri(self, path):
        return f"http://testserver{path}"


def signed_at(monkeypatch, world, seconds_ago: int, kind: str = "original") -> str:
    """A signed link as if it had been handed out `seconds_ago`."""
    with monkeypatch.context() as patch:
        patch.setattr(
            signing.TimestampSigner,
            "timestamp",
            lambda self: signing.b62_encode(int(time.time()) - seconds_ago),
        )
        return local_path(files.signed_url(_Request(), world.version, kind))


@local_links
def test_signed_links_work_for_their_lifetime_and_then_expire(world, monkeypatch, settings):
    settings.STUDIO_SIGNED_URL_SECONDS = 300
    anyone = Client()
    for kind in ("original", "thumb", "mask"):
        fresh = anyone.get(signed_at(monkeypatch, world, 0, kind))
        assert fresh.status_code == 200, kind
        fresh.close()
        nearly = anyone.get(signed_at(monkeypatch, world, 290, kind))
        assert nearly.status_code == 200, kind
        nearly.close()
        assert anyone.get(signed_at(monkeypatch, world, 301, kind)).status_code == 404, kind


@local_links
def test_a_zero_or_negative_lifetime_makes_every_link_expired(world, settings):
    url = local_path(files.signed_url(_Request(), world.version))
    for seconds in (-1, -300):
        settings.STUDIO_SIGNED_URL_SECONDS = seconds
        assert Client().get(url).status_code == 404


@local_links
def test_tampered_links_are_refused(world):
    token = local_path(files.signed_url(_Request(), world.version)).strip("/").split("/")[-1]
    payload, timestamp, signature = token.split(":")
    other_payload = signing.b64_encode(
        f'{{"v":"{world.source_version.pk}","k":"original"}}'.encode()
    ).decode()
    forgeries = [
        f"{other_payload}:{timestamp}:{signature}",  # another version, same signature
        f"{payload}:{signing.b62_encode(int(time.time()) + 10**6)}:{signature}",  # a far date
        f"{payload}:{timestamp}:{signature[:-2]}xx",
        f"{payload}:{timestamp}",
        # Signed by Django with another salt (as other features sign things): refused.
        signing.TimestampSigner(salt="other.feature").sign_object(
            {"v": str(world.version.pk), "k": "original"}
        ),
        signing.TimestampSigner(salt=files.SIGNER_SALT).sign_object(
            {"v": str(world.version.pk), "k": "../../secret_key"}
        ),
        signing.TimestampSigner(salt=files.SIGNER_SALT).sign_object(
            {"v": str(uuid.uuid4()), "k": "original"}
        ),
        signing.TimestampSigner(salt=files.SIGNER_SALT).sign_object(["not", "a", "dict"]),
    ]
    for token in forgeries:
        assert Client().get(f"/files/{token}/").status_code == 404, token


@local_links
def test_api_download_links_are_signed_and_expire(world, monkeypatch, settings):
    _, token = ApiToken.issue(world.owner, "t")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = api.get(f"/api/v1/versions/{world.version.pk}").json()
    for key in ("download_url", "thumbnail_url"):
        url = local_path(body[key])
        response = Client().get(url)
        assert response.status_code == 200
        response.close()
        settings.STUDIO_SIGNED_URL_SECONDS = -1
        assert Client().get(url).status_code == 404
        settings.STUDIO_SIGNED_URL_SECONDS = 300


def test_media_files_are_never_served_directly(world):
    owner = Client()
    owner.force_login(world.owner)
    for field in (world.version.image, world.version.thumbnail, world.version.mask):
        for prefix in ("/media/", "/static/", "/"):
            response = owner.get(prefix + field.name)
            assert response.status_code == 404, prefix + field.name
    for name in world.job.params.get("references", []):
        assert owner.get("/media/" + name).status_code == 404


def test_share_links_show_images_but_never_masks_or_other_versions(world, cast):
    base = f"/s/{world.share_token}"
    anyone = Client()
    for kind in ("original", "thumb"):
        response = anyone.get(f"{base}/{world.version.pk}/{kind}/")
        assert response.status_code in (200, 302), kind  # 302: to S3's presigned URL
        response.close()
    assert anyone.get(f"{base}/{world.version.pk}/mask/").status_code == 404
    # The asset's older version is not its current one: not shared.
    assert anyone.get(f"{base}/{world.source_version.pk}/original/").status_code == 404
    theirs = build_world(cast.outsider, cast.other_team)
    assert anyone.get(f"{base}/{theirs.version.pk}/original/").status_code == 404


@pytest.mark.s3
def test_s3_files_go_through_short_lived_presigned_urls(world, settings):
    _, token = ApiToken.issue(world.owner, "t")
    body = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(f"/api/v1/versions/{world.version.pk}")
    for key in ("download_url", "thumbnail_url"):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(body.json()[key]).query)
        assert query["X-Amz-Expires"] == [str(settings.STUDIO_SIGNED_URL_SECONDS)], key
        assert "X-Amz-Signature" in query
    owner = Client()
    owner.force_login(world.owner)
    response = owner.get(f"/versions/{world.version.pk}/original/")
    assert response.status_code == 302
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == [str(settings.STUDIO_SIGNED_URL_SECONDS)]
    assert "X-Amz-Signature" in query
    # Without the permission check in front, there is no redirect to follow.
    assert Client().get(f"/versions/{world.version.pk}/original/").status_code == 302
    assert (
        Client()
        .get(f"/versions/{world.version.pk}/original/")["Location"]
        .startswith("/accounts/login/")
    )
