from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from . import teams
from .forms import ApiTokenForm, InviteForm, RoleForm, SignUpForm, TeamForm
from .models import ApiToken, Invitation, Membership, Role
from .permissions import Action, require, role_in, team_for
from .redirects import on_this_site_or


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("studio:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        teams.create_personal_team(user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to Studio. This is your personal team's gallery.")
        return redirect(_safe_next(request) or "studio:home")
    return render(request, "accounts/signup.html", {"form": form})


def _safe_next(request) -> str:
    """The ?next= page to continue to, if it is on this site (never an open redirect)."""
    return on_this_site_or(request, request.GET.get("next", ""), "")


@login_required
def team_list(request):
    memberships = request.user.memberships.select_related("team").order_by("team__name")
    return render(request, "accounts/team_list.html", {"memberships": memberships})


@login_required
@require_http_methods(["GET", "POST"])
def team_create(request):
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = teams.create_team(request.user, form.cleaned_data["name"])
        messages.success(request, f"Team “{team.name}” created. You are its owner.")
        return redirect("accounts:team_detail", team_id=team.pk)
    return render(request, "accounts/team_form.html", {"form": form})


@login_required
def team_detail(request, team_id):
    team = team_for(request.user, team_id)
    role = role_in(request.user, team)
    context = {
        "team": team,
        "role": role,
        "can_manage": role == Role.OWNER,
        "memberships": team.memberships.select_related("user"),
        "invitations": [i for i in team.invitations.all() if i.is_usable],
        "rename_form": TeamForm(instance=team),
        "invite_form": InviteForm(),
        "roles": Role.choices,
        "new_invite_url": request.session.pop("new_invite_url", None),
    }
    return render(request, "accounts/team_detail.html", context)


@login_required
@require_POST
def team_rename(request, team_id):
    team = team_for(request.user, team_id, Action.MANAGE)
    form = TeamForm(request.POST, instance=team)
    if form.is_valid():
        form.save()
        messages.success(request, "Team renamed.")
    else:
        messages.error(request, " ".join(form.errors.get("name", ["Check the team name."])))
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_POST
def team_switch(request, team_id):
    team = team_for(request.user, team_id)
    teams.switch_team(request.user, team)
    return redirect("studio:home")


@login_required
@require_POST
def invite_create(request, team_id):
    team = team_for(request.user, team_id, Action.MANAGE)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role for the invitation.")
        return redirect("accounts:team_detail", team_id=team.pk)
    _, token = Invitation.issue(team, form.cleaned_data["role"], request.user)
    # The token is stored hashed: this is the only time the link can be shown.
    request.session["new_invite_url"] = request.build_absolute_uri(
        reverse("accounts:invite_accept", args=[token])
    )
    messages.success(request, "Invitation link created. Copy it now; it is shown only once.")
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_POST
def invite_revoke(request, team_id, invitation_id):
    team = team_for(request.user, team_id, Action.MANAGE)
    invitation = get_object_or_404(Invitation, pk=invitation_id, team=team)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    messages.success(request, "Invitation revoked.")
    return redirect("accounts:team_detail", team_id=team.pk)


@require_http_methods(["GET", "POST"])
def invite_accept(request, token):
    invitation = teams.find_invitation(token)
    valid = invitation is not None and invitation.is_usable
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        try:
            membership = teams.accept_invitation(token, request.user)
        except teams.TeamRuleError as error:
            messages.error(request, str(error))
            return redirect("studio:home")
        messages.success(
            request, f"You joined {membership.team.name} as {membership.get_role_display()}."
        )
        return redirect("studio:home")
    return render(
        request,
        "accounts/invite_accept.html",
        {"invitation": invitation if valid else None, "token": token},
        status=200 if valid else 404,
    )


def _membership(request, team_id, membership_id) -> Membership:
    team = team_for(request.user, team_id)
    memberships = Membership.objects.select_related("user", "team")
    return get_object_or_404(memberships, pk=membership_id, team=team)


@login_required
@require_POST
def member_role(request, team_id, membership_id):
    membership = _membership(request, team_id, membership_id)
    require(request.user, Action.MANAGE, membership.team)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise teams.TeamRuleError("Choose viewer, editor or owner.")
        teams.change_role(membership, form.cleaned_data["role"])
        messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
    except teams.TeamRuleError as error:
        messages.error(request, str(error))
    return redirect("accounts:team_detail", team_id=membership.team_id)


@login_required
@require_POST
def member_remove(request, team_id, membership_id):
    membership = _membership(request, team_id, membership_id)
    require(request.user, Action.MANAGE, membership.team)
    try:
        teams.remove_member(membership)
        messages.success(request, f"{membership.user} was removed from the team.")
    except teams.TeamRuleError as error:
        messages.error(request, str(error))
    return redirect("accounts:team_detail", team_id=membership.team_id)


@login_required
@require_POST
def team_leave(request, team_id):
    team = team_for(request.user, team_id)
    membership = Membership.objects.get(team=team, user=request.user)
    try:
        teams.remove_member(membership)
    except teams.TeamRuleError as error:
        messages.error(request, str(error))
        return redirect("accounts:team_detail", team_id=team.pk)
    messages.success(request, f"You left {team.name}.")
    return redirect("studio:home")


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = ApiTokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": request.user.api_tokens.filter(revoked_at=None),
    }
    return render(request, "accounts/api_tokens.html", context)


@login_required
@require_POST
def api_token_revoke(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("accounts:api_tokens")
