"""Read-only share links: creating and revoking them, and the public page they open."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Action, get_for

from .. import files, sharing
from ..models import Gallery, ShareLink


@login_required
@require_POST
def share_gallery(request, gallery_id):
    gallery = get_for(request.user, Gallery.objects.all(), Action.CREATE, pk=gallery_id)
    expires = sharing.EXPIRY_CHOICES.get(request.POST.get("expires", ""), None)
    _, token = sharing.create(request.user, gallery=gallery, expires_in=expires)
    url = request.build_absolute_uri(reverse("studio:shared", args=[token]))
    messages.success(request, f"Share link for this gallery (shown only once): {url}")
    return redirect("studio:gallery", gallery_id=gallery.pk)


@login_required
@require_POST
def revoke(request, link_id):
    link = get_for(request.user, ShareLink.objects.all(), Action.CREATE, pk=link_id)
    sharing.revoke(link)
    messages.success(request, "Share link revoked; it no longer opens anything.")
    if link.asset_id:
        return redirect("studio:asset", asset_id=link.asset_id)
    return redirect("studio:gallery", gallery_id=link.gallery_id)


def _link(token) -> ShareLink:
    link = sharing.resolve(token)
    if link is None:
        raise Http404("This share link is not valid any more.")
    return link


@require_GET
def shared(request, token):
    """What someone without an account sees: the images, and nothing else."""
    link = sharing.resolve(token)
    if link is None:
        return render(request, "studio/shared.html", {"link": None}, status=404)
    context = {"link": link, "token": token, "versions": sharing.shared_versions(link)[:200]}
    return render(request, "studio/shared.html", context)


@require_GET
def shared_file(request, token, version_id, kind):
    link = _link(token)
    if kind not in ("original", "thumb"):
        raise Http404("No such file.")
    version = sharing.shared_versions(link).filter(pk=version_id).first()
    if version is None:
        raise Http404("No such file.")
    return files.file_response(version, kind)
