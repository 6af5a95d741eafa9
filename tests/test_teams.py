"""Teams, roles and the rules that protect them."""

import pytest
from django.urls import reverse

from accounts.models import Invitation, Membership, Role, Team
from accounts.permissions import Action, can
from studio.models import Gallery

pytestmark = pytest.mark.django_db


def test_role_rules(cast):
    team = cast.team
    assert can(cast.owner, Action.MANAGE, team)
    assert not can(cast.editor, Action.MANAGE, team)
    assert can(cast.editor, Action.CREATE, team)
    assert not can(cast.viewer, Action.CREATE, team)
    assert can(cast.viewer, Action.COMMENT, team)
    assert can(cast.viewer, Action.VIEW, team)
    for action in Action:
        assert not can(cast.outsider, action, team)


def test_create_team_makes_owner_and_switches(cast):
    client = cast.client(cast.editor)
    response = client.post(reverse("accounts:team_create"), {"name": "Night shift"})
    team = Team.objects.get(name="Night shift")
    assert response.status_code == 302
    assert Membership.objects.get(team=team, user=cast.editor).role == Role.OWNER
    cast.editor.refresh_from_db()
    assert cast.editor.current_team == team


def test_create_team_with_blank_name_is_refused(cast):
    client = cast.client(cast.editor)
    count = Team.objects.count()
    response = client.post(reverse("accounts:team_create"), {"name": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert Team.objects.count() == count


def test_switch_team(cast):
    client = cast.client(cast.owner)
    personal = Team.objects.create(name="Side project")
    Membership.objects.create(team=personal, user=cast.owner, role=Role.OWNER)
    client.post(reverse("accounts:team_switch", args=[personal.pk]))
    cast.owner.refresh_from_db()
    assert cast.owner.current_team == personal
    gallery = client.get(reverse("studio:home"))
    assert gallery.url == reverse("studio:gallery", args=[Gallery.objects.get(team=personal).pk])


def test_outsider_cannot_switch_into_or_see_another_team(cast):
    client = cast.client(cast.outsider)
    assert client.post(reverse("accounts:team_switch", args=[cast.team.pk])).status_code == 404
    assert client.get(reverse("accounts:team_detail", args=[cast.team.pk])).status_code == 404
    cast.outsider.refresh_from_db()
    assert cast.outsider.current_team == cast.other_team


def test_outsider_cannot_see_gallery_of_another_team(cast):
    gallery = Gallery.default_for(cast.team)
    assert (
        cast.client(cast.outsider).get(reverse("studio:gallery", args=[gallery.pk])).status_code
        == 404
    )
    assert (
        cast.client(cast.viewer).get(reverse("studio:gallery", args=[gallery.pk])).status_code
        == 200
    )


def test_owner_changes_role(cast):
    membership = Membership.objects.get(team=cast.team, user=cast.viewer)
    client = cast.client(cast.owner)
    client.post(
        reverse("accounts:member_role", args=[cast.team.pk, membership.pk]), {"role": "editor"}
    )
    membership.refresh_from_db()
    assert membership.role == Role.EDITOR


@pytest.mark.parametrize("who", ["editor", "viewer", "outsider"])
def test_only_owner_changes_roles(cast, who):
    membership = Membership.objects.get(team=cast.team, user=cast.viewer)
    client = cast.client(getattr(cast, who))
    response = client.post(
        reverse("accounts:member_role", args=[cast.team.pk, membership.pk]), {"role": "owner"}
    )
    assert response.status_code == (404 if who == "outsider" else 403)
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_invalid_role_is_refused(cast):
    membership = Membership.objects.get(team=cast.team, user=cast.viewer)
    response = cast.client(cast.owner).post(
        reverse("accounts:member_role", args=[cast.team.pk, membership.pk]),
        {"role": "god"},
        follow=True,
    )
    assert "Choose viewer, editor or owner" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_last_owner_cannot_be_demoted_or_leave(cast):
    owner_membership = Membership.objects.get(team=cast.team, user=cast.owner)
    client = cast.client(cast.owner)
    response = client.post(
        reverse("accounts:member_role", args=[cast.team.pk, owner_membership.pk]),
        {"role": "viewer"},
        follow=True,
    )
    assert "at least one owner" in response.content.decode()
    response = client.post(reverse("accounts:team_leave", args=[cast.team.pk]), follow=True)
    assert "at least one owner" in response.content.decode()
    owner_membership.refresh_from_db()
    assert owner_membership.role == Role.OWNER


def test_owner_can_leave_once_another_owner_exists(cast):
    editor = Membership.objects.get(team=cast.team, user=cast.editor)
    editor.role = Role.OWNER
    editor.save()
    cast.client(cast.owner).post(reverse("accounts:team_leave", args=[cast.team.pk]))
    assert not Membership.objects.filter(team=cast.team, user=cast.owner).exists()


def test_member_leaves(cast):
    cast.client(cast.viewer).post(reverse("accounts:team_leave", args=[cast.team.pk]))
    assert not Membership.objects.filter(team=cast.team, user=cast.viewer).exists()
    cast.viewer.refresh_from_db()
    assert cast.viewer.current_team is None


def test_owner_removes_member_and_they_lose_access(cast):
    membership = Membership.objects.get(team=cast.team, user=cast.editor)
    cast.client(cast.owner).post(
        reverse("accounts:member_remove", args=[cast.team.pk, membership.pk])
    )
    assert not Membership.objects.filter(pk=membership.pk).exists()
    gallery = Gallery.default_for(cast.team)
    assert (
        cast.client(cast.editor).get(reverse("studio:gallery", args=[gallery.pk])).status_code
        == 404
    )


def test_editor_cannot_remove_member(cast):
    membership = Membership.objects.get(team=cast.team, user=cast.viewer)
    response = cast.client(cast.editor).post(
        reverse("accounts:member_remove", args=[cast.team.pk, membership.pk])
    )
    assert response.status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_membership_of_another_team_cannot_be_touched_through_my_team(cast):
    foreign = Membership.objects.get(team=cast.other_team, user=cast.outsider)
    response = cast.client(cast.owner).post(
        reverse("accounts:member_remove", args=[cast.team.pk, foreign.pk])
    )
    assert response.status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


def test_rename_team_owner_only(cast):
    assert (
        cast.client(cast.editor)
        .post(reverse("accounts:team_rename", args=[cast.team.pk]), {"name": "Hijacked"})
        .status_code
        == 403
    )
    cast.client(cast.owner).post(
        reverse("accounts:team_rename", args=[cast.team.pk]), {"name": "Acme Studio"}
    )
    cast.team.refresh_from_db()
    assert cast.team.name == "Acme Studio"


class TestInvitations:
    def invite(self, cast, role="viewer"):
        client = cast.client(cast.owner)
        client.post(reverse("accounts:invite_create", args=[cast.team.pk]), {"role": role})
        page = client.get(reverse("accounts:team_detail", args=[cast.team.pk]))
        url = page.context["new_invite_url"]
        assert url and "/accounts/invite/" in url
        return url.split("testserver", 1)[1]

    def test_link_shown_once_and_token_stored_hashed(self, cast):
        path = self.invite(cast)
        token = path.rstrip("/").rsplit("/", 1)[1]
        assert len(token) >= 40
        assert not Invitation.objects.filter(token_hash=token).exists()
        page = cast.client(cast.owner).get(reverse("accounts:team_detail", args=[cast.team.pk]))
        assert page.context["new_invite_url"] is None

    def test_accept_joins_with_role_once(self, cast):
        path = self.invite(cast, role="viewer")
        newcomer_client = cast.client(cast.outsider)
        assert newcomer_client.get(path).status_code == 200
        newcomer_client.post(path)
        assert Membership.objects.get(team=cast.team, user=cast.outsider).role == Role.VIEWER
        # Single use: a second person cannot use it.
        from tests.factories import UserFactory

        late = UserFactory()
        late_client = cast.client(late)
        assert late_client.get(path).status_code == 404
        late_client.post(path)
        assert not Membership.objects.filter(team=cast.team, user=late).exists()

    def test_expired_or_revoked_invitation_is_refused(self, cast):
        from django.utils import timezone

        path = self.invite(cast)
        Invitation.objects.update(expires_at=timezone.now())
        client = cast.client(cast.outsider)
        assert client.get(path).status_code == 404
        client.post(path)
        assert not Membership.objects.filter(team=cast.team, user=cast.outsider).exists()

    def test_revoke(self, cast):
        path = self.invite(cast)
        invitation = Invitation.objects.get()
        cast.client(cast.owner).post(
            reverse("accounts:invite_revoke", args=[cast.team.pk, invitation.pk])
        )
        assert cast.client(cast.outsider).get(path).status_code == 404

    def test_forged_token_is_refused(self, cast):
        response = cast.client(cast.outsider).get(
            reverse("accounts:invite_accept", args=["forged"])
        )
        assert response.status_code == 404
        assert "not valid" in response.content.decode()

    def test_anonymous_is_sent_to_log_in_first(self, cast, client):
        path = self.invite(cast)
        response = client.post(path)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))

    @pytest.mark.parametrize("who", ["editor", "viewer", "outsider"])
    def test_only_owner_invites(self, cast, who):
        response = cast.client(getattr(cast, who)).post(
            reverse("accounts:invite_create", args=[cast.team.pk]), {"role": "owner"}
        )
        assert response.status_code == (404 if who == "outsider" else 403)
        assert not Invitation.objects.exists()
