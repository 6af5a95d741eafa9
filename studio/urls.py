from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from accounts.throttle import throttle

from . import api, health
from .views import assets, sharing
from .views import edit as edit_views
from .views import gallery as views

studio_patterns = (
    [
        path("", views.home, name="home"),
        path("galleries/<uuid:gallery_id>/", views.gallery, name="gallery"),
        path(
            "galleries/<uuid:gallery_id>/jobs/",
            throttle("generate", key="user")(views.submit),
            name="submit",
        ),
        path(
            "galleries/<uuid:gallery_id>/brief/feedback/",
            views.brief_feedback,
            name="brief_feedback",
        ),
        path("galleries/<uuid:gallery_id>/brief/fields/", views.brief_fields, name="brief_fields"),
        path("galleries/<uuid:gallery_id>/briefs/", views.save_brief, name="save_brief"),
        path("galleries/<uuid:gallery_id>/new/", views.gallery_create, name="gallery_create"),
        path("galleries/<uuid:gallery_id>/rename/", views.gallery_rename, name="gallery_rename"),
        path("galleries/<uuid:gallery_id>/archive/", views.gallery_archive, name="gallery_archive"),
        path(
            "galleries/<uuid:gallery_id>/download/",
            assets.download_selection,
            name="download_selection",
        ),
        path("galleries/<uuid:gallery_id>/share/", sharing.share_gallery, name="share_gallery"),
        path("assets/<uuid:asset_id>/", assets.asset_page, name="asset"),
        path("assets/<uuid:asset_id>/compare/", assets.compare, name="compare"),
        path("assets/<uuid:asset_id>/status/", assets.set_status, name="set_status"),
        path("assets/<uuid:asset_id>/favourite/", assets.favourite, name="favourite"),
        path("assets/<uuid:asset_id>/share/", assets.share_create, name="share_asset"),
        path("versions/<uuid:version_id>/restore/", assets.restore, name="restore"),
        path("versions/<uuid:version_id>/comments/", assets.comment, name="comment"),
        path("versions/<uuid:version_id>/download/<str:fmt>/", assets.download, name="download"),
        # Before version_file, whose <str:kind> would match these too.
        path(
            "versions/<uuid:version_id>/edit/",
            throttle("generate", key="user")(edit_views.edit),
            name="edit",
        ),
        path("versions/<uuid:version_id>/edit/cost/", edit_views.edit_cost, name="edit_cost"),
        path(
            "versions/<uuid:version_id>/variations/",
            throttle("generate", key="user")(edit_views.variations),
            name="variations",
        ),
        path(
            "versions/<uuid:version_id>/upscale/",
            throttle("generate", key="user")(edit_views.upscale),
            name="upscale",
        ),
        path(
            "versions/<uuid:version_id>/promote/",
            throttle("generate", key="user")(edit_views.promote),
            name="promote",
        ),
        path("versions/<uuid:version_id>/<str:kind>/", views.version_file, name="version_file"),
        path("files/<str:token>/", views.signed_file, name="signed_file"),
        path("share/<uuid:link_id>/revoke/", sharing.revoke, name="share_revoke"),
        path("s/<str:token>/", sharing.shared, name="shared"),
        path(
            "s/<str:token>/<uuid:version_id>/<str:kind>/",
            sharing.shared_file,
            name="shared_file",
        ),
    ],
    "studio",
)

urlpatterns = [
    path("", include(studio_patterns)),
    # Before contrib.auth's own login URL, so this throttled one answers.
    path("accounts/login/", throttle("login")(LoginView.as_view()), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("accounts/", include("accounts.urls")),
    path("api/v1/", api.api.urls),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
