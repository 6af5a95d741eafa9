"""Pages. Thin: each view checks access, calls domain functions, renders."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts.permissions import Action, can, get_for
from accounts.teams import current_team

from .models import Gallery


@login_required
def home(request):
    team = current_team(request.user)
    if team is None:
        return redirect("accounts:team_create")
    return redirect("studio:gallery", gallery_id=Gallery.default_for(team).pk)


@login_required
def gallery(request, gallery_id):
    gallery = get_for(request.user, Gallery.objects.select_related("team"), pk=gallery_id)
    context = {
        "gallery": gallery,
        "team": gallery.team,
        "galleries": gallery.team.galleries.filter(archived_at=None),
        "can_create": can(request.user, Action.CREATE, gallery.team),
    }
    return render(request, "studio/gallery.html", context)
