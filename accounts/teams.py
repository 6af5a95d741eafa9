"""Team life: creating teams, joining by invitation, roles, leaving.

The one rule that spans them: a team always keeps at least one owner.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Invitation, Membership, Role, Team, User, hash_token


class TeamRuleError(Exception):
    """A request that would break a team rule; the message is shown to the user."""


@transaction.atomic
def create_team(owner: User, name: str, *, personal: bool = False) -> Team:
    team = Team.objects.create(name=name, personal=personal)
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    from studio import credits  # studio depends on accounts, not the other way round

    credits.record_grant(team, settings.STUDIO_STARTING_CREDITS, "Starting credits")
    team.refresh_from_db(fields=["credit_balance"])
    owner.current_team = team
    owner.save(update_fields=["current_team"])
    return team


def create_personal_team(user: User) -> Team:
    return create_team(user, f"{user.username}'s studio", personal=True)


def switch_team(user: User, team: Team) -> None:
    user.current_team = team
    user.save(update_fields=["current_team"])


def current_team(user: User) -> Team | None:
    """The team the user works in; falls back to any team they belong to."""
    # One query: the current team, only if the user still belongs to it.
    team = Team.objects.filter(pk=user.current_team_id, memberships__user=user).first()
    if team is not None:
        return team
    membership = Membership.objects.filter(user=user).select_related("team").first()
    if membership is None:
        return None
    switch_team(user, membership.team)
    return membership.team


def find_invitation(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("team", "created_by")
        .filter(token_hash=hash_token(token))
        .first()
    )


@transaction.atomic
def accept_invitation(token: str, user: User) -> Membership:
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("team")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None or not invitation.is_usable:
        raise TeamRuleError("This invitation link is no longer valid. Ask for a new one.")
    membership, created = Membership.objects.get_or_create(
        team=invitation.team, user=user, defaults={"role": invitation.role}
    )
    if not created:
        raise TeamRuleError(f"You are already a member of {invitation.team.name}.")
    invitation.used_at = timezone.now()
    invitation.used_by = user
    invitation.save(update_fields=["used_at", "used_by"])
    switch_team(user, invitation.team)
    return membership


def _locked_owner_count(team: Team) -> int:
    # Lock the team's owner rows so two demotions can't both pass the check.
    owners = Membership.objects.select_for_update().filter(team=team, role=Role.OWNER)
    return len(list(owners))


@transaction.atomic
def change_role(membership: Membership, role: str) -> None:
    if role not in Role.values:
        raise TeamRuleError("Choose viewer, editor or owner.")
    if (
        membership.role == Role.OWNER
        and role != Role.OWNER
        and _locked_owner_count(membership.team) <= 1
    ):
        raise TeamRuleError("A team needs at least one owner. Make someone else owner first.")
    membership.role = role
    membership.save(update_fields=["role"])


@transaction.atomic
def remove_member(membership: Membership) -> None:
    if membership.role == Role.OWNER and _locked_owner_count(membership.team) <= 1:
        raise TeamRuleError("A team needs at least one owner. Make someone else owner first.")
    user = membership.user
    team_id = membership.team_id
    membership.delete()
    from studio import live

    # Their open gallery sockets in this team close at once.
    transaction.on_commit(lambda: live.member_removed(team_id, user.pk))
    if user.current_team_id == membership.team_id:
        user.current_team = None
        user.save(update_fields=["current_team"])
