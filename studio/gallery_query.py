"""A page of a gallery's assets: filters, prompt search, keyset pagination.

Keyset (updated_at, id) keeps every page, the first or the thousandth, one indexed
query, whatever the gallery's size; favourites come in the same query as EXISTS.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import Asset, Favourite, Gallery, ReviewStatus

PAGE_SIZE = 24
SINCE = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}


@dataclass(frozen=True)
class GalleryFilter:
    q: str = ""
    model: str = ""
    status: str = ""
    creator: str = ""
    since: str = ""
    favourites: bool = False

    @classmethod
    def from_query(cls, params) -> "GalleryFilter":
        status = params.get("status", "")
        since = params.get("since", "")
        return cls(
            q=params.get("q", "").strip()[:200],
            model=params.get("model", "")[:64],
            status=status if status in ReviewStatus.values else "",
            creator=params.get("creator", "")[:150],
            since=since if since in SINCE else "",
            favourites=params.get("favourites") in ("1", "on", "true"),
        )

    def as_query(self) -> dict:
        values = {
            "q": self.q,
            "model": self.model,
            "status": self.status,
            "creator": self.creator,
            "since": self.since,
            "favourites": "1" if self.favourites else "",
        }
        return {key: value for key, value in values.items() if value}

    @property
    def active(self) -> bool:
        return bool(self.as_query())


def cursor_after(asset: Asset) -> str:
    """The cursor of the page that follows `asset` (the keyset: its time, then its id)."""
    return f"{asset.updated_at.isoformat()}|{asset.pk}"


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID] | None:
    try:
        stamp, pk = cursor.split("|", 1)
        moment = parse_datetime(stamp)
        return (moment, uuid.UUID(pk)) if moment else None
    except ValueError:
        return None


def assets(gallery: Gallery, user, filters: GalleryFilter, cursor: str = "") -> QuerySet:
    qs = (
        Asset.objects.filter(gallery=gallery, current_version__isnull=False)
        .select_related("current_version", "created_by")
        .annotate(is_favourite=Exists(Favourite.objects.filter(asset=OuterRef("pk"), user=user)))
    )
    if filters.q:
        qs = qs.filter(
            Q(current_version__prompt__icontains=filters.q) | Q(title__icontains=filters.q)
        )
    if filters.model:
        qs = qs.filter(current_version__model=filters.model)
    if filters.status:
        qs = qs.filter(review_status=filters.status)
    if filters.creator:
        qs = qs.filter(created_by__username=filters.creator)
    if filters.since:
        qs = qs.filter(updated_at__gte=timezone.now() - SINCE[filters.since])
    if filters.favourites:
        qs = qs.filter(is_favourite=True)
    position = _parse_cursor(cursor) if cursor else None
    if position:
        moment, pk = position
        # The plain bound lets the index seek straight to the cursor; with the OR alone,
        # PostgreSQL and SQLite walk and discard every newer row first (docs/benchmarks.md).
        qs = qs.filter(updated_at__lte=moment).filter(
            Q(updated_at__lt=moment) | Q(updated_at=moment, id__lt=pk)
        )
    return qs.order_by("-updated_at", "-id")


def page(gallery: Gallery, user, filters: GalleryFilter, cursor: str = ""):
    """One page of assets and the cursor of the next page (None at the end)."""
    rows = list(assets(gallery, user, filters, cursor)[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (cursor_after(rows[-1]) if more else None)
