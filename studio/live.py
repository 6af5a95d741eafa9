"""How progress reaches the browser: group names, publishing, rendering fragments.

Publishing goes through the channel layer to the gallery's group; each connected
GalleryConsumer renders the event's partial and pushes it to its socket, where htmx
swaps it into the page.
"""

import contextlib
import json
import logging
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string
from django.utils import timezone

from . import events
from .catalog import registry
from .models import Asset, Comment, Gallery, Job, JobStatus, ReviewEvent, Version

logger = logging.getLogger(__name__)

WORKERS_GROUP = "studio.workers"  # workers listen here to be woken for new jobs


def gallery_group(gallery_id) -> str:
    return f"gallery.{gallery_id.hex if hasattr(gallery_id, 'hex') else gallery_id}"


def job_view(job: Job, created_by: str = "") -> events.JobView:
    spec = registry().get(job.model) if job.model in registry() else None
    return events.JobView(
        id=str(job.pk),
        status=job.status,
        status_label=job.get_status_display(),
        kind=job.kind,
        kind_label=job.get_kind_display(),
        model=job.model,
        model_label=spec.label if spec else job.model,
        prompt=job.prompt,
        n=job.n,
        cost=job.cost,
        progress=job.progress,
        message=job.message,
        error=job.error,
        created_by=created_by or (job.created_by.username if job.created_by_id else ""),
        engine=spec.engine if spec else "",
    )


def asset_view(asset: Asset, version: Version, *, created_by: str) -> events.AssetView:
    return events.AssetView(
        id=str(asset.pk),
        title=asset.title,
        version_id=str(version.pk),
        kind=version.kind,
        kind_label=version.get_kind_display(),
        model_label=registry().label(version.model),
        width=version.width,
        height=version.height,
        aspect_ratio=version.aspect_ratio,
        review_status=asset.review_status,
        review_label=asset.get_review_status_display(),
        created_by=created_by,
        parent_id=str(version.parent_id or ""),
        created_at=version.created_at.isoformat() if version.created_at else "",
    )


def comment_view(comment) -> events.CommentView:
    return events.CommentView(
        id=str(comment.pk),
        version_id=str(comment.version_id),
        asset_id=str(comment.version.asset_id),
        author=comment.author.username if comment.author else "",
        body=comment.body,
        created_at=comment.created_at.isoformat(),
    )


def review_view(asset, event) -> events.ReviewView:
    return events.ReviewView(
        asset_id=str(asset.pk),
        asset_title=asset.title,
        status=event.status,
        label=event.get_status_display(),
        actor=event.actor.username if event.actor else "",
        created_at=event.created_at.isoformat(),
    )


async def publish(gallery_id, payload: dict) -> None:
    """Send one event to everyone watching the gallery. Live updates are best effort:
    the database stays the truth, and a reconnecting page catches up from it."""
    try:
        await get_channel_layer().group_send(gallery_group(gallery_id), payload)
    except Exception:  # a channel-layer outage must not fail the job
        logger.warning("Could not publish %s to gallery %s", payload.get("type"), gallery_id)


def publish_sync(gallery_id, payload: dict) -> None:
    async_to_sync(publish)(gallery_id, payload)


async def wake_workers() -> None:
    try:
        await get_channel_layer().group_send(WORKERS_GROUP, {"type": "worker.wake"})
    except Exception:
        logger.warning("Could not wake workers; they will find the job on their next poll")


FRAGMENTS = {
    events.JOB_QUEUED: "studio/gallery.html#job_card_insert",
    events.JOB_STARTED: "studio/gallery.html#job_card",
    events.JOB_PROGRESS: "studio/gallery.html#job_progress",
    events.JOB_PARTIAL: "studio/gallery.html#job_preview",
    events.JOB_SUCCEEDED: "studio/gallery.html#job_card",
    events.JOB_FAILED: "studio/gallery.html#job_card",
    events.VERSION_CREATED: "studio/live.html#version_created",
    events.COMMENT_ADDED: "studio/live.html#comment_added",
    events.REVIEW_CHANGED: "studio/live.html#review_changed",
}


# Fragments already rendered in this process, by event: every socket watching a gallery
# gets the same event, and rendering it once instead of once per socket is what keeps
# 500 watchers fast (docs/benchmarks.md, fan-out).
_RENDERED: dict[str, str] = {}
_RENDERED_MAX = 64


def render(payload: dict) -> str:
    """The HTML fragment for one event; needs no database access."""
    key = json.dumps(payload, sort_keys=True, default=str)
    html = _RENDERED.get(key)
    if html is None:
        html = _render(payload)
        if len(_RENDERED) >= _RENDERED_MAX:
            with contextlib.suppress(KeyError, StopIteration, RuntimeError):
                del _RENDERED[next(iter(_RENDERED))]  # the oldest
        _RENDERED[key] = html
    return html


def _render(payload: dict) -> str:
    event_type = payload["type"]
    context = {"event": event_type, "activity": payload.get("activity", "")}
    if event_type == events.VERSION_CREATED:
        context["asset"] = events.asset_from_payload(payload)
        context["live"] = True
    elif event_type == events.COMMENT_ADDED:
        context["comment"] = events.CommentView(**payload["comment"])
    elif event_type == events.REVIEW_CHANGED:
        context["review"] = events.ReviewView(**payload["review"])
    else:
        context["job"] = events.job_from_payload(payload)
        context["preview"] = payload.get("preview")
    return render_to_string(FRAGMENTS[event_type], context)


def snapshot(gallery: Gallery) -> list[dict]:
    """Unfinished jobs of a gallery, as events: what a (re)connecting page must catch up on."""
    jobs = (
        Job.objects.filter(gallery=gallery, status__in=["queued", "running"])
        .select_related("created_by")
        .order_by("created_at")
    )
    return [events.job_payload(events.JOB_QUEUED, job_view(job)) for job in jobs]


# A page away longer than this reloads rather than replays; both bounds keep one
# catch-up request cheap whatever a client sends.
CATCH_UP_HORIZON = timedelta(days=1)
CATCH_UP_LIMIT = 100


def catch_up(gallery_id, since: datetime) -> list[dict]:
    """What a page missed after `since` (its socket was down, say while Redis restarted,
    or not yet joined after a reload): each image made since, oldest first, then the end
    of each job finished since (its card leaves the page or shows its failure), then the
    comments and review changes since. Unfinished jobs come with every connect."""
    since = max(since, timezone.now() - CATCH_UP_HORIZON)
    versions = (
        Version.objects.filter(asset__gallery_id=gallery_id, created_at__gte=since)
        .select_related("asset", "created_by")
        .order_by("created_at")[:CATCH_UP_LIMIT]
    )
    finished = (
        Job.objects.filter(gallery_id=gallery_id, finished_at__gte=since)
        .select_related("created_by")
        .order_by("finished_at")[:CATCH_UP_LIMIT]
    )
    made = [
        events.version_payload(
            asset_view(
                version.asset,
                version,
                created_by=version.created_by.username if version.created_by else "",
            ),
            str(version.job_id or ""),
        )
        for version in versions
    ]
    ended = [
        events.job_payload(
            events.JOB_SUCCEEDED if job.status == JobStatus.SUCCEEDED else events.JOB_FAILED,
            job_view(job),
        )
        for job in finished
    ]
    comments = (
        Comment.objects.filter(version__asset__gallery_id=gallery_id, created_at__gte=since)
        .select_related("author", "version")
        .order_by("created_at")[:CATCH_UP_LIMIT]
    )
    reviews = (
        ReviewEvent.objects.filter(asset__gallery_id=gallery_id, created_at__gte=since)
        .select_related("asset", "actor")
        .order_by("created_at")[:CATCH_UP_LIMIT]
    )
    said = [events.comment_payload(comment_view(comment)) for comment in comments]
    said += [events.review_payload(review_view(event.asset, event)) for event in reviews]
    return made + ended + said


def since_fragment(now: datetime) -> str:
    """Tells a freshly connected page the moment from which it hears everything live."""
    return render_to_string("studio/live.html#live_since", {"since": now, "live": True})


def member_removed(team_id, user_id) -> None:
    gallery_ids = list(Gallery.objects.filter(team_id=team_id).values_list("pk", flat=True))
    payload = {"type": "team.member_removed", "user_id": user_id}

    async def send_all():
        for gallery_id in gallery_ids:
            await publish(gallery_id, payload)

    async_to_sync(send_all)()
