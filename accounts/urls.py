from django.urls import path

from . import views
from .throttle import throttle

app_name = "accounts"

urlpatterns = [
    path("signup/", throttle("signup")(views.signup), name="signup"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/new/", views.team_create, name="team_create"),
    path("teams/<uuid:team_id>/", views.team_detail, name="team_detail"),
    path("teams/<uuid:team_id>/rename/", views.team_rename, name="team_rename"),
    path("teams/<uuid:team_id>/switch/", views.team_switch, name="team_switch"),
    path("teams/<uuid:team_id>/leave/", views.team_leave, name="team_leave"),
    path("teams/<uuid:team_id>/invitations/", views.invite_create, name="invite_create"),
    path(
        "teams/<uuid:team_id>/invitations/<uuid:invitation_id>/revoke/",
        views.invite_revoke,
        name="invite_revoke",
    ),
    path(
        "teams/<uuid:team_id>/members/<int:membership_id>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "teams/<uuid:team_id>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path(
        "invite/<str:token>/",
        throttle("invite", methods=("GET", "POST"))(views.invite_accept),
        name="invite_accept",
    ),
    path("settings/tokens/", views.api_tokens, name="api_tokens"),
    path(
        "settings/tokens/<uuid:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"
    ),
]
