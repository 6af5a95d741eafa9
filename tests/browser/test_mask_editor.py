"""Painting a mask with real pointer events, undoing and redoing it, and sending the edit."""

import re

from playwright.sync_api import expect

from studio.models import Job, JobStatus, Version, VersionKind

COVERAGE = re.compile(r"Mask covers (less than 1|\d+)% of the image")
EMPTY = "The mask is empty: paint over the area you want to change."


def make_version(page) -> Version:
    """A finished version, generated through the brief form by the in-process worker."""
    page.goto("/")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    page.get_by_label("Subject").fill("A lighthouse on a cliff")
    page.get_by_role("button", name="Generate").click()
    grid = page.get_by_role("list", name="Images in this gallery")
    expect(grid.get_by_role("listitem", name="A lighthouse on a cliff")).to_have_count(1)
    return Version.objects.get(job__kind=VersionKind.GENERATE)


def test_paint_undo_redo_and_submit_a_masked_edit(cast, page, log_in):
    log_in(page, cast.editor)
    source = make_version(page)
    page.goto(f"/versions/{source.pk}/edit/")
    status = page.get_by_role("status").filter(has_text="mask")
    expect(status).to_have_text(EMPTY)
    expect(page.get_by_role("button", name="Brush")).to_have_attribute("aria-pressed", "true")

    # One stroke across the middle of the image, with the mouse.
    box = page.locator("canvas.mask-layer").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y + 20, steps=12)
    page.mouse.up()
    expect(status).to_have_text(COVERAGE)
    painted = status.text_content()

    page.keyboard.press("Control+Z")
    expect(status).to_have_text(EMPTY)
    page.keyboard.press("Shift+Control+Z")
    expect(status).to_have_text(painted)

    # The toolbar answers the keyboard too.
    page.keyboard.press("E")
    expect(page.get_by_role("button", name="Eraser")).to_have_attribute("aria-pressed", "true")
    size = page.get_by_label("Brush size")
    before = int(size.input_value())
    page.keyboard.press("]")
    assert int(size.input_value()) > before

    page.get_by_label("What changes").fill("A red kite in the sky")
    page.get_by_label("What must stay").fill("The lighthouse and the cliff")
    page.get_by_role("button", name="Apply edit").click()

    page.wait_for_url(re.compile(rf"/assets/{source.asset_id}/\?version={source.pk}$"))
    edit = Job.objects.get(kind=VersionKind.EDIT)
    assert edit.source_version_id == source.pk
    history = page.get_by_role("list", name="Version history")
    expect(history.get_by_role("link", name=re.compile("Masked edit"))).to_have_count(1)
    result = Version.objects.get(job=edit)
    assert result.parent_id == source.pk and result.asset_id == source.asset_id
    assert Job.objects.get(pk=edit.pk).status == JobStatus.SUCCEEDED
    # The mask went up at the image's own size, however the page had zoomed it.
    assert result.mask.name


def test_an_empty_mask_is_refused_in_the_browser(cast, page, log_in):
    log_in(page, cast.editor)
    source = make_version(page)
    page.goto(f"/versions/{source.pk}/edit/")
    page.get_by_label("What changes").fill("A red kite")
    page.get_by_role("button", name="Apply edit").click()
    expect(page.get_by_role("alert")).to_have_text("Paint the area you want to change first.")
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()


def test_server_refusal_shows_beside_the_field_and_keeps_the_work(cast, page, log_in):
    log_in(page, cast.editor)
    source = make_version(page)
    page.goto(f"/versions/{source.pk}/edit/")
    page.get_by_role("button", name="Rectangle").click()
    box = page.locator("canvas.mask-layer").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 160, box["y"] + 120, steps=5)
    page.mouse.up()
    status = page.get_by_role("status").filter(has_text="mask")
    expect(status).to_have_text(COVERAGE)
    page.get_by_label("What must stay").fill("Everything else")
    page.get_by_role("button", name="Apply edit").click()  # "What changes" left empty
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Say what should change inside the painted area.")
    expect(page.get_by_label("What changes")).to_be_focused()
    expect(page.get_by_label("What must stay")).to_have_value("Everything else")
    expect(status).to_have_text(COVERAGE)  # the painted mask is still there
    assert not Job.objects.filter(kind=VersionKind.EDIT).exists()


def test_upscale_from_the_asset_page_arrives_live(cast, page, log_in):
    log_in(page, cast.editor)
    source = make_version(page)
    page.goto(f"/assets/{source.asset_id}/?version={source.pk}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    tools = page.get_by_role("region", name="Iterate on this version")
    tools.get_by_role("group", name="Upscale").get_by_role("button", name="2× · 2048×2048").click()
    expect(tools.get_by_role("status")).to_contain_text("Queued a 2× upscale to 2048×2048")
    history = page.get_by_role("list", name="Version history")
    expect(history.get_by_role("link", name=re.compile("Upscale"))).to_have_count(1)
    upscaled = Version.objects.get(kind=VersionKind.UPSCALE)
    assert (upscaled.width, upscaled.height) == (2048, 2048)
    assert upscaled.parent_id == source.pk
