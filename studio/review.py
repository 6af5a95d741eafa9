"""Team review: comments, review status with its history, favourites, restoring versions.

Each change is published to the gallery's group so every open page shows it at once.
"""

import contextlib

from django.db import IntegrityError, transaction

from accounts.models import User

from . import events, live
from .models import Asset, Comment, Favourite, ReviewEvent, ReviewStatus, Version

MAX_COMMENT = 4000


class ReviewError(ValueError):
    """Bad input to a review action; the message is shown to the user."""


def add_comment(version: Version, author: User, body: str) -> Comment:
    body = body.strip()
    if not body:
        raise ReviewError("Write something first.")
    if len(body) > MAX_COMMENT:
        raise ReviewError(f"Keep comments under {MAX_COMMENT} characters.")
    comment = Comment.objects.create(
        team_id=version.team_id, version=version, author=author, body=body
    )
    live.publish_sync(version.asset.gallery_id, events.comment_payload(live.comment_view(comment)))
    return comment


@transaction.atomic
def set_status(asset: Asset, status: str, actor: User) -> ReviewEvent | None:
    if status not in ReviewStatus.values:
        raise ReviewError("Choose draft, in review, changes requested or approved.")
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    if asset.review_status == status:
        return None
    event = ReviewEvent.objects.create(
        team_id=asset.team_id, asset=asset, status=status, previous=asset.review_status, actor=actor
    )
    asset.review_status = status
    asset.save(update_fields=["review_status", "updated_at"])
    payload = events.review_payload(live.review_view(asset, event))
    transaction.on_commit(lambda: live.publish_sync(asset.gallery_id, payload))
    return event


def toggle_favourite(asset: Asset, user: User) -> bool:
    """Favourite or unfavourite; returns whether it is a favourite now."""
    deleted, _ = Favourite.objects.filter(asset=asset, user=user).delete()
    if deleted:
        return False
    with contextlib.suppress(IntegrityError):  # a double click raced us
        Favourite.objects.create(asset=asset, user=user)
    return True


@transaction.atomic
def restore(version: Version, actor: User) -> Asset:
    """Make an older version the asset's current one again (nothing is deleted)."""
    asset = Asset.objects.select_for_update().get(pk=version.asset_id)
    asset.current_version = version
    asset.save(update_fields=["current_version", "updated_at"])
    view = live.asset_view(asset, version, created_by=actor.username)
    payload = events.version_payload(view, "", activity=f"{actor.username} restored a version")
    transaction.on_commit(lambda: live.publish_sync(asset.gallery_id, payload))
    return asset
