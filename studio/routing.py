from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/galleries/<uuid:gallery_id>/", consumers.GalleryConsumer.as_asgi()),
]
