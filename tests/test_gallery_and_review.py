"""Galleries (filters, search, pages, management), review, downloads and share links."""

import io
import zipfile
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from studio import imaging, review, sharing
from studio.models import Asset, Comment, Gallery, Job, ReviewEvent, Version

from .pipeline import drain, submit

pytestmark = pytest.mark.django_db(transaction=True)


def make(cast, subject="A red bicycle", user=None, **options) -> Version:
    job = submit(user or cast.editor, cast.team, subject=subject, **options)
    async_to_sync(drain)()
    return Version.objects.select_related("asset").get(job=job)


def grid_titles(response) -> list[str]:
    return [asset.title for asset in response.context["assets"]]


def test_search_and_filters(cast):
    make(cast, "A red bicycle")
    lighthouse = make(cast, "A lighthouse at dusk", user=cast.owner)
    review.set_status(lighthouse.asset, "approved", cast.owner)
    review.toggle_favourite(lighthouse.asset, cast.editor)
    client = cast.client(cast.editor)
    url = reverse("studio:gallery", args=[Gallery.default_for(cast.team).pk])
    assert grid_titles(client.get(url, {"q": "lighthouse"})) == ["A lighthouse at dusk"]
    assert grid_titles(client.get(url, {"q": "BICYCLE"})) == ["A red bicycle"]
    assert grid_titles(client.get(url, {"status": "approved"})) == ["A lighthouse at dusk"]
    assert grid_titles(client.get(url, {"creator": "eddie"})) == ["A red bicycle"]
    assert grid_titles(client.get(url, {"favourites": "1"})) == ["A lighthouse at dusk"]
    assert grid_titles(client.get(url, {"model": "gpt-image-2"})) == []
    assert len(grid_titles(client.get(url, {"since": "day"}))) == 2
    # Junk filter values are ignored, never an error.
    assert (
        client.get(url, {"status": "<script>", "since": "forever", "cursor": "x|y"}).status_code
        == 200
    )


def test_htmx_filtering_returns_just_the_grid(cast):
    make(cast, "A red bicycle")
    client = cast.client(cast.editor)
    url = reverse("studio:gallery", args=[Gallery.default_for(cast.team).pk])
    response = client.get(url, {"q": "bicycle", "filtering": "1"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "A red bicycle" in html and "<html" not in html and "brief-form" not in html


def bulk_gallery(cast, assets=10_000, versions_per_asset=10) -> Gallery:
    """A gallery of assets × versions rows, made in bulk (no files needed to list them)."""
    from django.db import transaction

    gallery = Gallery.default_for(cast.team)
    asset_rows, version_rows = [], []
    for i in range(assets):
        asset = Asset(team=cast.team, gallery=gallery, title=f"Study {i}", created_by=cast.editor)
        for v in range(versions_per_asset):
            version_rows.append(
                Version(
                    team=cast.team,
                    asset=asset,
                    kind="generate",
                    brief={"subject": asset.title},
                    prompt=f"{asset.title}. Take {v}.",
                    model="sketch",
                    quality="medium",
                    aspect_ratio="1:1",
                    requested_width=1024,
                    requested_height=1024,
                    width=1024,
                    height=1024,
                    image=f"x/{asset.pk}-{v}.png",
                    thumbnail=f"x/{asset.pk}-{v}.webp",
                    checksum="0" * 64,
                )
            )
        # Ids are made in Python, so the current version can be named before it is saved;
        # foreign keys are checked at commit.
        asset.current_version_id = version_rows[-1].pk
        asset_rows.append(asset)
    with transaction.atomic():
        Asset.objects.bulk_create(asset_rows, batch_size=2000)
        Version.objects.bulk_create(version_rows, batch_size=5000)
    return gallery


def test_gallery_of_100000_versions_pages_in_constant_queries(cast):
    from studio.gallery_query import GalleryFilter, assets, cursor_after

    gallery = bulk_gallery(cast)
    assert Version.objects.filter(team=cast.team).count() == 100_000
    order = list(assets(gallery, cast.editor, GalleryFilter()).values_list("title", flat=True))
    client = cast.client(cast.editor)
    url = reverse("studio:gallery", args=[gallery.pk])
    with CaptureQueriesContext(connection) as first:
        response = client.get(url)
    assert grid_titles(response) == order[:24]
    second = client.get(url, {"cursor": response.context["next_cursor"]}, HTTP_HX_REQUEST="true")
    assert grid_titles(second) == order[24:48]
    # Deep in the grid: the cursor a visitor would hold after scrolling 200 pages.
    cursor = cursor_after(Asset.objects.get(gallery=gallery, title=order[4823]))
    with CaptureQueriesContext(connection) as deep:
        deep_page = client.get(url, {"cursor": cursor}, HTTP_HX_REQUEST="true")
    assert grid_titles(deep_page) == order[4824:4848]
    assert len(deep.captured_queries) < 10
    assert len(first.captured_queries) < 10  # the full page, brief form and filters included
    page_queries = [q["sql"] for q in deep.captured_queries if "studio_asset" in q["sql"]]
    assert len(page_queries) == 1  # one query lists the page, favourites included


def test_gallery_management(cast):
    gallery = Gallery.default_for(cast.team)
    client = cast.client(cast.editor)
    client.post(reverse("studio:gallery_create", args=[gallery.pk]), {"name": "Autumn campaign"})
    autumn = Gallery.objects.get(name="Autumn campaign")
    assert autumn.team == cast.team
    client.post(reverse("studio:gallery_rename", args=[autumn.pk]), {"name": "Autumn 2027"})
    client.post(reverse("studio:gallery_archive", args=[autumn.pk]))
    autumn.refresh_from_db()
    assert autumn.name == "Autumn 2027" and autumn.archived_at is not None
    from studio import jobs
    from studio.jobs import SubmitError
    from tests.pipeline import request

    with pytest.raises(SubmitError):
        jobs.submit(cast.editor, autumn, request())
    for user in (cast.viewer,):
        response = cast.client(user).post(
            reverse("studio:gallery_rename", args=[autumn.pk]), {"name": "Mine"}
        )
        assert response.status_code == 403
    response = cast.client(cast.outsider).post(reverse("studio:gallery_archive", args=[autumn.pk]))
    assert response.status_code == 404


def test_comments_are_escaped_and_viewers_may_comment(cast):
    version = make(cast)
    client = cast.client(cast.viewer)
    client.post(reverse("studio:comment", args=[version.pk]), {"body": "<script>alert(1)</script>"})
    assert Comment.objects.get().author == cast.viewer
    page = client.get(reverse("studio:asset", args=[version.asset_id])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    empty = client.post(reverse("studio:comment", args=[version.pk]), {"body": "  "}, follow=True)
    assert "Write something first" in empty.content.decode()
    assert Comment.objects.count() == 1
    outsider = cast.client(cast.outsider).post(
        reverse("studio:comment", args=[version.pk]), {"body": "hi"}
    )
    assert outsider.status_code == 404


def test_review_status_history_and_role_rules(cast):
    version = make(cast)
    url = reverse("studio:set_status", args=[version.asset_id])
    assert cast.client(cast.viewer).post(url, {"status": "approved"}).status_code == 403
    cast.client(cast.editor).post(url, {"status": "in_review"})
    cast.client(cast.owner).post(url, {"status": "approved"})
    cast.client(cast.owner).post(url, {"status": "nonsense"})
    asset = Asset.objects.get(pk=version.asset_id)
    assert asset.review_status == "approved"
    history = list(ReviewEvent.objects.filter(asset=asset).order_by("created_at"))
    assert [(e.previous, e.status) for e in history] == [
        ("draft", "in_review"),
        ("in_review", "approved"),
    ]


def test_restore_and_favourite(cast):
    first = make(cast)
    second = Version.objects.create(
        **{
            f.name: getattr(first, f.name)
            for f in Version._meta.concrete_fields
            if f.name not in ("id", "created_at", "parent", "job")
        },
        parent=first,
    )
    Asset.objects.filter(pk=first.asset_id).update(current_version=second)
    assert (
        cast.client(cast.viewer).post(reverse("studio:restore", args=[first.pk])).status_code == 403
    )
    cast.client(cast.editor).post(reverse("studio:restore", args=[first.pk]))
    assert Asset.objects.get(pk=first.asset_id).current_version_id == first.pk
    # Compare with nothing chosen: the restored current version against the other one,
    # never a version against itself (it was, once an older version was current).
    compare = cast.client(cast.viewer).get(reverse("studio:compare", args=[first.asset_id]))
    assert (compare.context["a"], compare.context["b"]) == (second, first)
    client = cast.client(cast.viewer)
    client.post(reverse("studio:favourite", args=[first.asset_id]))
    assert first.asset.favourites.filter(user=cast.viewer).exists()
    client.post(reverse("studio:favourite", args=[first.asset_id]))
    assert not first.asset.favourites.filter(user=cast.viewer).exists()


def test_version_tree_lists_parents_and_children(cast):
    from studio.views.assets import version_tree

    first = make(cast)
    child = Version.objects.create(
        **{
            f.name: getattr(first, f.name)
            for f in Version._meta.concrete_fields
            if f.name not in ("id", "created_at", "parent", "kind", "job")
        },
        parent=first,
        kind="edit",
    )
    tree = version_tree(first.asset, [first, child])
    assert [n.version.pk for n in tree] == [first.pk]
    assert [n.version.pk for n in tree[0].children] == [child.pk]
    page = cast.client(cast.viewer).get(reverse("studio:asset", args=[first.asset_id]))
    html = page.content.decode()
    assert f'id="children-{first.pk}"' in html and "Masked edit" in html
    compare = cast.client(cast.viewer).get(
        reverse("studio:compare", args=[first.asset_id]), {"a": first.pk, "b": child.pk}
    )
    assert compare.status_code == 200
    assert compare.context["rows"][0][0] == "Subject"


def test_downloads_carry_the_brief_and_zip_a_selection(cast):
    version = make(cast, "A blue door")
    other = make(cast, "A green gate")
    client = cast.client(cast.viewer)
    png = client.get(reverse("studio:download", args=[version.pk, "png"]))
    if png.status_code == 302:  # S3: a presigned URL that asks the browser to download
        assert "response-content-disposition=attachment" in png["Location"]
        import urllib.request

        with urllib.request.urlopen(png["Location"]) as response:
            data = response.read()
    else:
        assert "attachment" in png["Content-Disposition"]
        data = b"".join(png.streaming_content)
    assert '"subject": "A blue door"' in imaging.read_png_metadata(data)["studio:brief"]
    webp = client.get(reverse("studio:download", args=[version.pk, "webp"]))
    assert webp["Content-Type"] == "image/webp" and webp.content[8:12] == b"WEBP"
    jpeg = client.get(reverse("studio:download", args=[version.pk, "jpeg"]))
    assert jpeg.content[:2] == b"\xff\xd8"
    assert client.get(reverse("studio:download", args=[version.pk, "gif"])).status_code == 404
    gallery = Gallery.default_for(cast.team)
    archive = client.post(
        reverse("studio:download_selection", args=[gallery.pk]),
        {"asset": [version.asset_id, other.asset_id]},
    )
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert len(names) == 2 and all(name.endswith(".png") for name in names)
    outsider = cast.client(cast.outsider)
    assert outsider.get(reverse("studio:download", args=[version.pk, "png"])).status_code == 404
    foreign = outsider.post(
        reverse("studio:download_selection", args=[Gallery.default_for(cast.other_team).pk]),
        {"asset": [version.asset_id]},
    )
    # Another team's asset ids simply select nothing from the outsider's own gallery.
    assert len(zipfile.ZipFile(io.BytesIO(foreign.content)).namelist()) == 0


def test_share_link_works_while_valid_and_shows_only_images(cast, client):
    version = make(cast, "A secret prototype")
    link, token = sharing.create(cast.editor, asset=version.asset)
    page = client.get(reverse("studio:shared", args=[token]))
    assert page.status_code == 200
    html = page.content.decode()
    assert version.prompt not in html  # images, not the brief
    thumb = client.get(reverse("studio:shared_file", args=[token, version.pk, "thumb"]))
    assert thumb.status_code in (200, 302)
    other = make(cast, "Another asset")
    assert (
        client.get(reverse("studio:shared_file", args=[token, other.pk, "original"])).status_code
        == 404
    )
    sharing.revoke(link)
    assert client.get(reverse("studio:shared", args=[token])).status_code == 404
    assert (
        client.get(reverse("studio:shared_file", args=[token, version.pk, "thumb"])).status_code
        == 404
    )


def test_share_link_expires_and_only_editors_create_them(cast, client):
    version = make(cast)
    link, token = sharing.create(cast.editor, asset=version.asset, expires_in=timedelta(days=1))
    assert client.get(reverse("studio:shared", args=[token])).status_code == 200
    type(link).objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(reverse("studio:shared", args=[token])).status_code == 404
    url = reverse("studio:share_asset", args=[version.asset_id])
    assert cast.client(cast.viewer).post(url).status_code == 403
    assert cast.client(cast.outsider).post(url).status_code == 404
    assert client.get(reverse("studio:shared", args=["forged-token"])).status_code == 404


def test_branch_prefills_the_brief(cast):
    version = make(cast, "A red bicycle", lighting="Blue hour")
    page = cast.client(cast.editor).get(
        reverse("studio:gallery", args=[version.asset.gallery_id]), {"from": version.pk}
    )
    assert page.context["form"].initial["lighting"] == "Blue hour"
    assert Job.objects.count() == 1
