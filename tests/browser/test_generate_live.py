"""Writing a brief and watching the image arrive live, in two browsers at once."""

import re

from playwright.sync_api import expect

from studio.models import Job, JobStatus


def test_brief_preview_cost_and_live_generation_seen_by_a_teammate(cast, page, second_page, log_in):
    log_in(page, cast.editor)
    log_in(second_page, cast.viewer)
    second_page.goto("/")
    expect(second_page.get_by_text("Live", exact=True)).to_be_visible()

    page.goto("/")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    page.get_by_label("Subject").fill("A red bicycle against a white wall")
    preview = page.get_by_test_id("prompt-preview")
    expect(preview).to_have_text("A red bicycle against a white wall.")
    # The checker points at what is missing, beside the field it concerns.
    expect(page.locator("#findings-lighting")).to_contain_text("light")
    page.get_by_label("Lighting").fill("Golden hour from the left")
    expect(preview).to_have_text("A red bicycle against a white wall. Golden hour from the left.")
    expect(page.locator("#findings-lighting")).to_be_empty()

    page.get_by_label("Images", exact=True).fill("2")
    expect(page.locator("#cost-value")).to_have_text("2 credits")
    page.get_by_text("16:9").click()
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("status").filter(has_text="Queued 2 images")).to_be_visible()
    expect(page.locator("#credit-balance")).to_have_text(str(cast.team.credit_balance - 2))
    # The brief panel's "left" follows the spend too, not only the header.
    expect(page.get_by_text(f"of {cast.team.credit_balance - 2} left")).to_be_visible()

    # Both browsers see the two finished images arrive without reloading.
    for viewer in (page, second_page):
        grid = viewer.get_by_role("list", name="Images in this gallery")
        expect(
            grid.get_by_role("listitem", name="A red bicycle against a white wall")
        ).to_have_count(2)
        expect(
            viewer.get_by_role("img", name="A red bicycle against a white wall").first
        ).to_be_visible()
        expect(viewer.locator(".job-card")).to_have_count(0)
    job = Job.objects.get()
    assert job.status == JobStatus.SUCCEEDED
    assert job.versions.count() == 2
    img = second_page.get_by_role("img", name="A red bicycle against a white wall").first
    assert re.search(r"/versions/.+/thumb/", img.get_attribute("src"))
    img.scroll_into_view_if_needed()
    second_page.wait_for_function("(img) => img.complete", arg=img.element_handle())
    assert second_page.evaluate("(img) => img.naturalWidth", img.element_handle()) > 0
    # The 16:9 thumbnail fills its card's width at its true ratio (a stray class once
    # squashed thumbnails to an icon's 22 px).
    box = img.bounding_box()
    assert box["width"] > 150 and abs(box["width"] / box["height"] - 16 / 9) < 0.05


def test_progress_and_preview_stream_in_before_the_image(cast, page, log_in, settings):
    settings.STUDIO_SKETCH_STEP_DELAY = 0.4  # slow the sketch so each step can be seen
    log_in(page, cast.editor)
    page.goto("/")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    page.get_by_label("Subject").fill("A lighthouse on a cliff")
    page.keyboard.press("Control+Enter")
    card = page.locator(".job-card")
    expect(card).to_have_count(1)
    expect(card.get_by_role("progressbar")).to_be_visible()
    expect(card.get_by_text(re.compile(r"Running"))).to_be_visible()
    expect(card.get_by_role("img", name="Preview of the image being made")).to_be_visible()
    expect(page.get_by_role("listitem", name="A lighthouse on a cliff")).to_have_count(1)
    expect(card).to_have_count(0)


def test_viewer_sees_no_brief_form(cast, page, log_in):
    log_in(page, cast.viewer)
    page.goto("/")
    expect(page.get_by_role("heading", name="View only")).to_be_visible()
    expect(page.get_by_role("button", name="Generate")).to_have_count(0)


def test_preview_follows_a_preset_that_arrives_late(cast, page, log_in):
    """The select's own input event asks for a preview of the old, blank fields.
    When the preset's fields arrive after that, the preview must still follow them."""
    log_in(page, cast.editor)
    page.goto("/")
    expect(page.get_by_test_id("prompt-preview")).to_have_text("Start with the subject.")
    # Hold the preset's fields until the stale preview request has gone out.
    held, stale_preview_sent = [], []

    def hold_fields(route):
        if stale_preview_sent:
            route.continue_()
        else:
            held.append(route)

    def release_fields(route):
        stale_preview_sent.append(route.request.post_data)
        route.continue_()
        while held:
            held.pop().continue_()

    page.route(re.compile(r"/brief/fields/"), hold_fields)
    page.route(re.compile(r"/brief/feedback/$"), release_fields)
    page.get_by_label("Start from").select_option(label="Mountains at dusk")
    expect(page.get_by_label("Subject")).to_have_value(re.compile("Mountain landscape"))
    expect(page.get_by_test_id("prompt-preview")).to_contain_text("Mountain landscape")


def test_presets_advisor_and_saved_briefs(cast, page, log_in):
    from studio.models import SavedBrief

    log_in(page, cast.editor)
    page.goto("/")
    page.get_by_label("Start from").select_option(label="Mountains at dusk")
    expect(page.get_by_label("Subject")).to_have_value(re.compile("Mountain landscape"))
    expect(page.get_by_test_id("prompt-preview")).to_contain_text("Mountain landscape")

    page.get_by_role("button", name="Speed and low cost").click()
    expect(page.get_by_role("button", name="Speed and low cost")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#advisor-why")).to_contain_text("We suggest")
    brief_panel = page.get_by_role("complementary", name="Brief")
    expect(brief_panel.get_by_label("Model")).to_have_value("sketch")

    page.get_by_text("Save this brief for the team").click()
    page.get_by_label("Brief name").fill("Alpine series")
    page.get_by_role("button", name="Save brief").click()
    expect(page.get_by_text("Saved “Alpine series”")).to_be_visible()
    assert SavedBrief.objects.get(name="Alpine series").brief["subject"].startswith("Mountain")


def test_a_page_that_lost_its_socket_catches_up_when_it_is_back(cast, page, log_in):
    """A socket dropped by a restart (or Redis going away) reconnects by itself; what
    finished in between arrives then, from the database, without a reload."""
    from tests.pipeline import off_the_loop, submit, wait_until_finished

    server_down = [False]
    connected = []

    def route(socket):
        if server_down[0]:
            socket.close(code=1013, reason="Try again later")
            return
        socket.connect_to_server()
        connected.append(socket)

    page.route_web_socket(re.compile(r"/ws/galleries/"), route)
    log_in(page, cast.viewer)
    page.goto("/")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()

    server_down[0] = True
    connected[-1].close(code=1012, reason="Service restart")
    expect(page.get_by_text("Reconnecting…")).to_be_visible()
    job = off_the_loop(submit, cast.editor, cast.team, subject="A kite over dunes")
    assert off_the_loop(wait_until_finished, job) == "succeeded"
    card = page.get_by_role("listitem", name="A kite over dunes")
    expect(card).to_have_count(0)  # finished while the page could not hear it

    server_down[0] = False
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=20_000)
    expect(card).to_have_count(1)
    expect(card.get_by_role("img", name="A kite over dunes")).to_be_visible()


def test_a_card_replaced_live_keeps_this_viewers_star_and_selection(cast, page, log_in):
    """A teammate's variation replaces the asset's card for everyone; the viewer's own
    favourite star and selection tick stay on it."""
    from studio import iterations
    from studio.models import Version
    from tests.pipeline import off_the_loop, submit, wait_until_finished

    job = off_the_loop(submit, cast.editor, cast.team, subject="A paper boat")
    assert off_the_loop(wait_until_finished, job) == "succeeded"
    log_in(page, cast.editor)
    page.goto("/")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    card = page.get_by_role("listitem", name="A paper boat")
    card.get_by_role("button", name="Favourite").click()
    expect(card.get_by_role("button", name="Favourite")).to_have_attribute("aria-pressed", "true")
    card.get_by_role("checkbox", name="Select A paper boat").check()
    first_version = card.get_by_role("img", name="A paper boat").get_attribute("src")

    version = Version.objects.get(job=job)
    variation = off_the_loop(iterations.variations, cast.owner, version)
    assert off_the_loop(wait_until_finished, variation) == "succeeded"
    expect(card.get_by_role("img", name="A paper boat")).not_to_have_attribute(
        "src", first_version
    )  # the card now shows the variation
    expect(card.get_by_role("button", name="Favourite")).to_have_attribute("aria-pressed", "true")
    expect(card.get_by_role("checkbox", name="Select A paper boat")).to_be_checked()
