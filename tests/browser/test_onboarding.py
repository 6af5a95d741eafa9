"""A newcomer signs up, lands on the empty gallery and creates a team."""

import re

from playwright.sync_api import expect

from accounts.models import Membership, Role


def test_sign_up_land_on_gallery_and_create_team(page):
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Password", exact=True).fill("sunlit brief 77")
    page.get_by_label("Password confirmation").fill("sunlit brief 77")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", name="Main board")).to_be_visible()
    expect(page.get_by_text("Nothing here yet")).to_be_visible()
    expect(page.get_by_label("Team")).to_have_value(re.compile(r"/switch/$"))

    page.get_by_role("link", name="Teams").click()
    page.get_by_role("link", name="New team").click()
    page.get_by_label("Team name").fill("Campaign crew")
    page.get_by_role("button", name="Create team").click()

    expect(page.get_by_role("heading", name="Campaign crew")).to_be_visible()
    expect(page.get_by_text("You are owner")).to_be_visible()
    assert (
        Membership.objects.get(team__name="Campaign crew", user__username="maya").role == Role.OWNER
    )
    # The new team is now the one the switcher shows.
    expect(page.get_by_label("Team").locator("option:checked")).to_have_text("Campaign crew")
