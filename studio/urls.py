from django.contrib import admin
from django.urls import include, path

from . import health, views

studio_patterns = (
    [
        path("", views.home, name="home"),
        path("galleries/<uuid:gallery_id>/", views.gallery, name="gallery"),
    ],
    "studio",
)

urlpatterns = [
    path("", include(studio_patterns)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/", include("accounts.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
