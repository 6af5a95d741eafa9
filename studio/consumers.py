"""The WebSocket side of live updates: one socket per open gallery page."""

import json
import time
from datetime import datetime

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from accounts.permissions import Action, role_allows, role_in

from . import live
from .models import Gallery

MEMBERSHIP_RECHECK_SECONDS = 30


class GalleryConsumer(AsyncWebsocketConsumer):
    """Joins the gallery's group once the user may see it; pushes rendered fragments."""

    @database_sync_to_async
    def _gallery_and_snapshot(self, user, gallery_id):
        gallery = Gallery.objects.filter(pk=gallery_id).first()
        if gallery is None or not role_allows(role_in(user, gallery.team_id), Action.VIEW):
            return None, []
        return gallery, live.snapshot(gallery)

    @database_sync_to_async
    def _still_member(self):
        return role_allows(role_in(self.scope["user"], self.team_id), Action.VIEW)

    async def connect(self):
        self.group = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        gallery_id = self.scope["url_route"]["kwargs"]["gallery_id"]
        gallery, pending = await self._gallery_and_snapshot(user, gallery_id)
        if gallery is None:
            await self.close()
            return
        self.team_id = gallery.team_id
        self.gallery_id = gallery.pk
        self.caught_up = False
        self.membership_checked_at = time.monotonic()
        listening_from = timezone.now()  # before joining: a gap of none rather than one
        self.group = live.gallery_group(gallery.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=live.since_fragment(listening_from))
        # Catch up: jobs queued or running while this page was not listening.
        for payload in pending:
            await self.send(text_data=live.render(payload))

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """The page says one thing, once per socket: since when it may have missed
        events ({"catch_up_since": iso time}). Anything else is ignored."""
        since = _catch_up_since(text_data)
        if since is None or self.caught_up:
            return
        self.caught_up = True
        for payload in await database_sync_to_async(live.catch_up)(self.gallery_id, since):
            await self.send(text_data=live.render(payload))

    async def forward(self, event: dict):
        # Removal closes sockets through an event; should that event be lost (the layer
        # down at that moment), membership is asked again now and then as events flow.
        now = time.monotonic()
        if now - self.membership_checked_at > MEMBERSHIP_RECHECK_SECONDS:
            self.membership_checked_at = now
            if not await self._still_member():
                await self.close()
                return
        await self.send(text_data=live.render(event))

    async def team_member_removed(self, event: dict):
        """Sent to the team's galleries when someone leaves: their sockets close at once."""
        if event.get("user_id") == self.scope["user"].pk and not await self._still_member():
            await self.close()

    # One handler per event type (Channels maps "job.progress" to job_progress).
    job_queued = job_started = job_progress = job_partial = forward
    job_succeeded = job_failed = version_created = forward
    comment_added = review_changed = forward


def _catch_up_since(text: str | None) -> datetime | None:
    try:
        since = datetime.fromisoformat(json.loads(text or "")["catch_up_since"])
    except (ValueError, TypeError, KeyError):
        return None
    return since if timezone.is_aware(since) else None
