"""The studio as a team uses it: filters, versions, compare, live review, roles, sharing."""

import re

from asgiref.sync import async_to_sync
from playwright.sync_api import expect

from studio import sharing
from studio.models import Asset, Version

from ..pipeline import drain, off_the_loop, submit, wait_until_finished


def make(cast, subject, user=None) -> Version:
    """Generate a version outside Playwright's thread (it keeps an event loop running)."""

    def work():
        job = submit(user or cast.editor, cast.team, subject=subject)
        async_to_sync(drain)()  # the live server's worker may take it first:
        assert wait_until_finished(job) == "succeeded"
        return Version.objects.select_related("asset").get(job=job)

    return off_the_loop(work)


def child_of(version: Version, kind="edit") -> Version:
    fields = {
        f.name: getattr(version, f.name)
        for f in Version._meta.concrete_fields
        if f.name not in ("id", "created_at", "parent", "kind", "job")
    }
    child = Version.objects.create(**fields, parent=version, kind=kind)
    Asset.objects.filter(pk=version.asset_id).update(current_version=child)
    return child


def test_filter_and_search_the_gallery(cast, page, log_in):
    make(cast, "A red bicycle")
    make(cast, "A lighthouse at dusk")
    log_in(page, cast.editor)
    page.goto("/")
    grid = page.get_by_role("list", name="Images in this gallery")
    expect(grid.get_by_role("listitem")).to_have_count(2)
    page.get_by_label("Search prompts").fill("lighthouse")
    expect(grid.get_by_role("listitem")).to_have_count(1)
    expect(grid.get_by_role("listitem", name="A lighthouse at dusk")).to_be_visible()
    assert "q=lighthouse" in page.url
    page.get_by_label("Search prompts").fill("")
    page.get_by_label("Review status").select_option("approved")
    expect(grid.get_by_role("listitem")).to_have_count(0)
    page.get_by_label("Review status").select_option("")
    expect(grid.get_by_role("listitem")).to_have_count(2)
    # Lightbox with keyboard navigation.
    grid.get_by_role("link", name="A red bicycle").first.click()
    dialog = page.get_by_role("dialog", name="Image viewer")
    expect(dialog).to_be_visible()
    first_title = page.locator("#lightbox-title").inner_text()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#lightbox-title")).not_to_have_text(first_title)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_version_tree_restore_and_compare(cast, page, log_in):
    first = make(cast, "A red bicycle")
    second = child_of(first)
    log_in(page, cast.editor)
    page.goto(f"/assets/{first.asset_id}/")
    tree = page.get_by_role("list", name="Version history")
    expect(tree.get_by_role("link")).to_have_count(2)
    expect(tree.get_by_role("link", name=re.compile("Masked edit"))).to_have_attribute(
        "aria-current", "true"
    )
    tree.get_by_role("link", name=re.compile("^Generated")).click()
    expect(page.get_by_text("Older version")).to_be_visible()
    page.get_by_role("button", name="Restore as current").click()
    expect(page.get_by_text("This version is the current one again.")).to_be_visible()
    assert Asset.objects.get(pk=first.asset_id).current_version_id == first.pk

    page.get_by_role("link", name="Compare versions").click()
    expect(page.get_by_role("heading", name="Compare versions")).to_be_visible()
    page.get_by_label("Left").select_option(str(first.pk))
    page.get_by_label("Right").select_option(str(second.pk))
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("img", name="Left: Generated")).to_be_visible()
    expect(page.get_by_role("img", name="Right: Masked edit")).to_be_visible()
    swipe = page.get_by_label("Swipe position")
    swipe.fill("20")
    expect(page.locator("[data-swipe-top]")).to_have_css("clip-path", re.compile(r"20%"))
    expect(page.get_by_role("table", name="Brief differences")).to_contain_text("Subject")


def test_comments_and_review_status_are_live_for_a_teammate(cast, page, second_page, log_in):
    version = make(cast, "A red bicycle")
    log_in(page, cast.editor)
    log_in(second_page, cast.viewer)
    second_page.goto(f"/assets/{version.asset_id}/")
    expect(second_page.get_by_text("Live", exact=True)).to_be_visible()
    page.goto(f"/assets/{version.asset_id}/")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()

    page.get_by_label("Add a comment").fill("Warmer light, please <b>now</b>")
    page.get_by_role("button", name="Comment").click()
    comments = second_page.get_by_role("list", name="Comments")
    expect(comments).to_contain_text("Warmer light, please <b>now</b>")  # shown as text
    expect(page.get_by_label("Add a comment")).to_have_value("")

    page.get_by_label("Review status").select_option("changes_requested")
    page.get_by_role("button", name="Set status").click()
    expect(second_page.locator(f"#status-{version.asset_id}")).to_have_text("Changes requested")
    expect(second_page.get_by_role("list", name="Review history")).to_contain_text(
        "Changes requested"
    )
    # The viewer may comment too.
    second_page.get_by_label("Add a comment").fill("Agreed")
    second_page.get_by_role("button", name="Comment").click()
    expect(page.get_by_role("list", name="Comments")).to_contain_text("Agreed")


def test_viewer_is_refused_an_edit(cast, page, log_in):
    version = make(cast, "A red bicycle")
    log_in(page, cast.viewer)
    page.goto(f"/assets/{version.asset_id}/")
    expect(page.get_by_role("heading", name="Comments on this version")).to_be_visible()
    # The page offers no way to change the asset...
    expect(page.get_by_role("button", name="Set status")).to_have_count(0)
    expect(page.get_by_role("button", name="Create share link")).to_have_count(0)
    expect(page.get_by_role("link", name="New branch from this brief")).to_have_count(0)
    # ...and the server refuses one sent anyway.
    status = (
        cast.client(cast.viewer)
        .post(f"/assets/{version.asset_id}/status/", {"status": "approved"})
        .status_code
    )
    assert status == 403
    assert Asset.objects.get(pk=version.asset_id).review_status == "draft"


def test_share_link_works_until_revoked(cast, page, second_page, log_in):
    version = make(cast, "A red bicycle")
    log_in(page, cast.editor)
    page.goto(f"/assets/{version.asset_id}/")
    page.get_by_role("button", name="Create share link").click()
    link = page.get_by_label("Share link", exact=True).input_value()
    assert "/s/" in link

    second_page.goto(link)  # a stranger, not logged in
    expect(second_page.get_by_role("img", name="A red bicycle")).to_be_visible()
    expect(second_page.get_by_text(version.prompt)).to_have_count(0)

    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Share link revoked")).to_be_visible()
    response = second_page.goto(link)
    assert response.status == 404
    second_page.console_errors.remove(
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    )
    expect(
        second_page.get_by_role("heading", name="This link does not work any more")
    ).to_be_visible()
    assert sharing.resolve(link.rstrip("/").rsplit("/", 1)[1]) is None
