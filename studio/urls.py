from django.contrib import admin
from django.urls import include, path

from . import api, health, views

studio_patterns = (
    [
        path("", views.home, name="home"),
        path("galleries/<uuid:gallery_id>/", views.gallery, name="gallery"),
        path("galleries/<uuid:gallery_id>/jobs/", views.submit, name="submit"),
        path(
            "galleries/<uuid:gallery_id>/brief/feedback/",
            views.brief_feedback,
            name="brief_feedback",
        ),
        path("galleries/<uuid:gallery_id>/brief/fields/", views.brief_fields, name="brief_fields"),
        path("galleries/<uuid:gallery_id>/briefs/", views.save_brief, name="save_brief"),
        path("versions/<uuid:version_id>/<str:kind>/", views.version_file, name="version_file"),
        path("files/<str:token>/", views.signed_file, name="signed_file"),
    ],
    "studio",
)

urlpatterns = [
    path("", include(studio_patterns)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", api.api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
