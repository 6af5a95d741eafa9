"""The WebSocket side of live updates: one socket per open gallery page."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.permissions import Action, role_allows, role_in

from .models import Gallery


class GalleryConsumer(AsyncWebsocketConsumer):
    """Joins the gallery's group after checking the user may see it."""

    @database_sync_to_async
    def _load_gallery(self, user, gallery_id):
        gallery = Gallery.objects.filter(pk=gallery_id).first()
        if gallery is None or not role_allows(role_in(user, gallery.team_id), Action.VIEW):
            return None
        return gallery

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        self.gallery = await self._load_gallery(
            user, self.scope["url_route"]["kwargs"]["gallery_id"]
        )
        if self.gallery is None:
            await self.close()
            return
        self.group = self.gallery.group_name
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
