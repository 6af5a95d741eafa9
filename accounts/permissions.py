"""The permission rules: the one place that says who may do what in a team.

Views, WebSocket consumers and the API all ask here. Objects of a team the user is
not a member of answer 404, never 403, so their existence does not leak.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Model, QuerySet
from django.http import Http404

from .models import Membership, Role, Team, User


class Action(StrEnum):
    VIEW = "view"  # see galleries, versions, files
    COMMENT = "comment"  # comment and favourite
    CREATE = "create"  # generate, edit, manage galleries, change review status
    MANAGE = "manage"  # members, roles, invitations, team name


# The least role that may take each action.
REQUIRED_ROLE = {
    Action.VIEW: Role.VIEWER,
    Action.COMMENT: Role.VIEWER,
    Action.CREATE: Role.EDITOR,
    Action.MANAGE: Role.OWNER,
}
ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


def role_allows(role: str | None, action: Action) -> bool:
    if role is None:
        return False
    return ROLE_RANK[Role(role)] >= ROLE_RANK[REQUIRED_ROLE[action]]


def role_in(user: User, team: Team | str) -> str | None:
    """The user's role in a team, or None for anonymous users and outsiders."""
    if not user.is_authenticated:
        return None
    team_id = team.pk if isinstance(team, Team) else team
    return (
        Membership.objects.filter(user=user, team_id=team_id).values_list("role", flat=True).first()
    )


def can(user: User, action: Action, team: Team | str) -> bool:
    return role_allows(role_in(user, team), action)


def require(user: User, action: Action, team: Team | str) -> str:
    """Return the user's role, or raise 404 for outsiders and 403 for too small a role."""
    role = role_in(user, team)
    if role is None:
        raise Http404("No such item.")
    if not role_allows(role, action):
        raise PermissionDenied("Your role in this team does not allow that.")
    return role


def team_for(user: User, team_id, action: Action = Action.VIEW) -> Team:
    try:
        team = Team.objects.get(pk=team_id)
    except (Team.DoesNotExist, ValidationError, ValueError, TypeError) as error:
        raise Http404("No such team.") from error
    require(user, action, team)
    return team


def visible_to(user: User, queryset: QuerySet, team_path: str = "team") -> QuerySet:
    """Narrow a queryset to objects of the user's teams; `team_path` leads to the team."""
    if not user.is_authenticated:
        return queryset.none()
    return queryset.filter(**{f"{team_path}__memberships__user": user})


_ROLE = "_membership_role"


def get_for(
    user: User,
    queryset: QuerySet,
    action: Action = Action.VIEW,
    *,
    team_path: str = "team",
    **lookup,
) -> Model:
    """Fetch one object the user may act on; 404 if it is not theirs to see.

    The user's role comes in the same query, read from the membership row the
    visibility filter joins anyway."""
    try:
        obj = (
            visible_to(user, queryset, team_path)
            .annotate(**{_ROLE: F(f"{team_path}__memberships__role")})
            .get(**lookup)
        )
    except (queryset.model.DoesNotExist, ValidationError, ValueError, TypeError) as error:
        raise Http404("No such item.") from error
    except queryset.model.MultipleObjectsReturned as error:  # pragma: no cover - unique lookups
        raise Http404("No such item.") from error
    role = getattr(obj, _ROLE)
    if not role_allows(role, action):
        raise PermissionDenied("Your role in this team does not allow that.")
    # Kept on the object so a view can ask what else the user may do without asking again.
    obj.user_role = role
    return obj


def checked(user: User, obj: Model, action: Action, queryset: QuerySet | None = None) -> Model:
    """`obj` as get_for returns it for `action`: the object itself when get_for fetched it
    already with a role that allows `action` (no second query), else fetched again."""
    if role_allows(getattr(obj, "user_role", None), action):
        return obj
    queryset = type(obj).objects.all() if queryset is None else queryset
    return get_for(user, queryset, action, pk=obj.pk)
