"""The asset page: the selected version large, its history as a tree, review and downloads;
plus compare and the downloads themselves."""

import io
import zipfile
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Action, get_for, role_allows
from accounts.redirects import on_this_site_or

from .. import files, imaging, live, review, sharing, versions
from ..briefs import FIELDS
from ..catalog import registry
from ..models import Asset, Gallery, ReviewStatus, Version

BRIEF_LABELS = {
    "subject": "Subject",
    "frame": "Frame",
    "lighting": "Lighting",
    "style": "Style",
    "finish": "Finish",
}


@dataclass
class TreeNode:
    version: Version
    asset_id: str
    children: list["TreeNode"] = field(default_factory=list)

    # The same names the live fragment uses (events.AssetView), so one partial serves both.
    @property
    def version_id(self) -> str:
        return str(self.version.pk)

    @property
    def kind_label(self) -> str:
        return self.version.get_kind_display()

    @property
    def model_label(self) -> str:
        return registry().label(self.version.model)

    @property
    def created_by(self) -> str:
        return self.version.created_by.username if self.version.created_by else ""

    @property
    def created_at(self):
        return self.version.created_at


def version_tree(asset: Asset, all_versions: list[Version]) -> list[TreeNode]:
    nodes = {v.pk: TreeNode(v, str(asset.pk)) for v in all_versions}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.version.parent_id)
        (parent.children if parent else roots).append(node)
    return roots


def _asset(request, asset_id, action=Action.VIEW) -> Asset:
    return get_for(
        request.user,
        Asset.objects.select_related("gallery", "team", "current_version"),
        action,
        pk=asset_id,
    )


@login_required
@require_GET
def asset_page(request, asset_id):
    live_since = timezone.now()  # before any query: the page's socket catches up from here
    asset = _asset(request, asset_id)
    all_versions = list(asset.versions.select_related("created_by", "job").order_by("created_at"))
    selected = asset.current_version
    wanted = request.GET.get("version")
    if wanted:
        selected = next((v for v in all_versions if str(v.pk) == wanted), None)
        if selected is None:
            raise Http404("No such version of this asset.")
    comments = (
        [live.comment_view(c) for c in selected.comments.select_related("author", "version")]
        if selected
        else []
    )
    can_create = role_allows(asset.user_role, Action.CREATE)
    context = {
        "asset": asset,
        "gallery": asset.gallery,
        "live_since": live_since,
        # The header shows the team whose credits this page's iterations spend.
        "current_team": asset.team,
        "selected": selected,
        "selected_id": str(selected.pk) if selected else "",
        "tree": version_tree(asset, all_versions),
        "version_count": len(all_versions),
        "brief_rows": [(BRIEF_LABELS[f], selected.brief.get(f, "")) for f in FIELDS]
        if selected
        else [],
        "comments": comments,
        "review_history": asset.review_events.select_related("actor")[:20],
        "statuses": ReviewStatus.choices,
        "can_create": can_create,
        "can_comment": role_allows(asset.user_role, Action.COMMENT),
        "is_favourite": asset.favourites.filter(user=request.user).exists(),
        "model_label": registry().label(selected.model) if selected else "",
        "share_links": asset.share_links.filter(revoked_at=None) if can_create else [],
        "new_share_url": request.session.pop("new_share_url", None),
        "expiry_choices": sharing.EXPIRY_LABELS,
    }
    return render(request, "studio/asset.html", context)


@login_required
@require_POST
def restore(request, version_id):
    version = get_for(
        request.user, Version.objects.select_related("asset"), Action.CREATE, pk=version_id
    )
    review.restore(version, request.user)
    messages.success(request, "This version is the current one again.")
    return redirect(f"{reverse('studio:asset', args=[version.asset_id])}?version={version.pk}")


@login_required
@require_POST
def set_status(request, asset_id):
    asset = _asset(request, asset_id, Action.CREATE)
    try:
        review.set_status(asset, request.POST.get("status", ""), request.user)
    except review.ReviewError as error:
        messages.error(request, str(error))
    return redirect("studio:asset", asset_id=asset.pk)


@login_required
@require_POST
def comment(request, version_id):
    version = get_for(
        request.user, Version.objects.select_related("asset"), Action.COMMENT, pk=version_id
    )
    try:
        review.add_comment(version, request.user, request.POST.get("body", ""))
    except review.ReviewError as error:
        if request.htmx:
            return render(
                request,
                "studio/asset.html#comment_form",
                {
                    "selected": version,
                    "comment_error": str(error),
                    "body": request.POST.get("body", "")[: review.MAX_COMMENT],
                },
            )
        messages.error(request, str(error))
    if request.htmx:
        # The comment itself arrives over the socket, for everyone at once.
        return render(request, "studio/asset.html#comment_form", {"selected": version})
    return redirect(f"{reverse('studio:asset', args=[version.asset_id])}?version={version.pk}")


@login_required
@require_POST
def favourite(request, asset_id):
    asset = _asset(request, asset_id, Action.COMMENT)
    is_favourite = review.toggle_favourite(asset, request.user)
    if request.htmx:
        return render(
            request,
            "studio/gallery.html#favourite_button",
            {"asset_id": asset.pk, "is_favourite": is_favourite},
        )
    # Back to the page the star was clicked on, if that page is on this site.
    return redirect(
        on_this_site_or(
            request, request.POST.get("next", ""), reverse("studio:asset", args=[asset.pk])
        )
    )


@login_required
@require_GET
def compare(request, asset_id):
    asset = _asset(request, asset_id)
    all_versions = list(asset.versions.order_by("created_at"))
    by_id = {str(v.pk): v for v in all_versions}
    a = by_id.get(request.GET.get("a", ""))
    b = by_id.get(request.GET.get("b", ""))
    if a is None or b is None:
        if len(all_versions) < 2:
            messages.error(request, "This asset has only one version; there is nothing to compare.")
            return redirect("studio:asset", asset_id=asset.pk)
        # The current version on the right, the newest other one on the left.
        b = b or asset.current_version or all_versions[-1]
        a = a or next(v for v in reversed(all_versions) if v != b)
    rows = []
    for name in FIELDS:
        left, right = a.brief.get(name, ""), b.brief.get(name, "")
        rows.append((BRIEF_LABELS[name], left, right, left != right))
    rows.append(("Prompt sent", a.prompt, b.prompt, a.prompt != b.prompt))
    rows.append(("Model", registry().label(a.model), registry().label(b.model), a.model != b.model))
    size_a, size_b = f"{a.width}×{a.height}", f"{b.width}×{b.height}"
    rows.append(("Size", size_a, size_b, size_a != size_b))
    context = {"asset": asset, "a": a, "b": b, "rows": rows, "versions": all_versions}
    return render(request, "studio/compare.html", context)


EXPORTS = {"webp": ("image/webp", "webp"), "jpeg": ("image/jpeg", "jpg")}


@login_required
@require_GET
def download(request, version_id, fmt):
    version = get_for(request.user, Version.objects.select_related("asset"), pk=version_id)
    if fmt == "png":
        return files.file_response(version, "original", download=True)
    if fmt not in EXPORTS:
        raise Http404("No such format.")
    content_type, suffix = EXPORTS[fmt]
    data = imaging.export(versions.open_original(version), fmt, quality=90)
    response = HttpResponse(data, content_type=content_type)
    name = f"{files.download_name(version)}.{suffix}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


MAX_ZIP = 100


@login_required
@require_POST
def download_selection(request, gallery_id):
    """A zip of the selected assets' current versions, each PNG with its brief inside."""
    gallery = get_for(request.user, Gallery.objects.all(), pk=gallery_id)
    ids = request.POST.getlist("asset")[: MAX_ZIP + 1]
    if not ids:
        messages.error(request, "Select the images to download first.")
        return redirect("studio:gallery", gallery_id=gallery.pk)
    if len(ids) > MAX_ZIP:
        messages.error(request, f"Download at most {MAX_ZIP} images at a time.")
        return redirect("studio:gallery", gallery_id=gallery.pk)
    try:
        selected = list(
            Version.objects.filter(
                pk__in=Asset.objects.filter(gallery=gallery, pk__in=ids).values("current_version")
            ).select_related("asset")
        )
    except Exception as error:  # malformed ids
        raise Http404("No such item.") from error
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        from django.core.files.storage import default_storage

        for version in selected:
            with default_storage.open(version.image.name) as handle:
                archive.writestr(f"{files.download_name(version)}.png", handle.read())
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{gallery.name[:30]}-{stamp}.zip"'
    return response


@login_required
@require_POST
def share_create(request, asset_id):
    asset = _asset(request, asset_id, Action.CREATE)
    expires = sharing.EXPIRY_CHOICES.get(request.POST.get("expires", ""), None)
    _, token = sharing.create(request.user, asset=asset, expires_in=expires)
    request.session["new_share_url"] = request.build_absolute_uri(
        reverse("studio:shared", args=[token])
    )
    messages.success(request, "Share link created. Copy it now; it is shown only once.")
    return redirect("studio:asset", asset_id=asset.pk)
