from django.utils.functional import SimpleLazyObject

from .teams import current_team as find_current_team


def current_team(request):
    """The team the signed-in user works in, and the teams they can switch to."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        # Lazy: fragments (htmx answers, live updates) never show it, so never ask for it.
        "current_team": SimpleLazyObject(lambda: find_current_team(user)),
        "my_teams": user.teams.order_by("-personal", "name"),
    }
