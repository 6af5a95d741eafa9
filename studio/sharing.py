"""Read-only share links for an asset or a gallery: unguessable, revocable, may expire."""

import secrets
from datetime import timedelta

from django.utils import timezone

from accounts.models import User, hash_token

from .models import Asset, Gallery, ShareLink, Version

EXPIRY_CHOICES = {
    "": None,
    "1": timedelta(days=1),
    "7": timedelta(days=7),
    "30": timedelta(days=30),
}
# What the share forms' expiry menus offer, in the order above.
EXPIRY_LABELS = [
    (key, f"{span.days} day{'s' if span.days != 1 else ''}" if span else "Never")
    for key, span in EXPIRY_CHOICES.items()
]


def create(
    user: User,
    *,
    asset: Asset | None = None,
    gallery: Gallery | None = None,
    expires_in: timedelta | None = None,
) -> tuple[ShareLink, str]:
    token = secrets.token_urlsafe(32)
    target = asset or gallery
    link = ShareLink.objects.create(
        team_id=target.team_id,
        asset=asset,
        gallery=gallery,
        token_hash=hash_token(token),
        created_by=user,
        expires_at=timezone.now() + expires_in if expires_in else None,
    )
    return link, token


def resolve(token: str) -> ShareLink | None:
    link = (
        ShareLink.objects.select_related("asset", "gallery")
        .filter(token_hash=hash_token(token), revoked_at=None)
        .first()
    )
    if link is None or (link.expires_at and link.expires_at <= timezone.now()):
        return None
    return link


def revoke(link: ShareLink) -> None:
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])


def shared_versions(link: ShareLink):
    """The current versions a link shows: one asset's, or every asset's of a gallery."""
    if link.asset_id:
        assets = Asset.objects.filter(pk=link.asset_id)
    else:
        assets = Asset.objects.filter(gallery_id=link.gallery_id)
    return (
        Version.objects.filter(pk__in=assets.values("current_version"))
        .select_related("asset")
        .order_by("-created_at")
    )
