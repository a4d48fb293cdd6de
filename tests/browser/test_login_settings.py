"""Sign-in and the org settings pages (members, invitations accepted in a fresh browser, teams, clusters with
"test connection"), at 1280 px and 390 px."""

import pytest
from playwright.sync_api import expect

from tests.accounts import PASSWORD
from tests.browser.conftest import NARROW, WIDE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_login_page_and_narrow_sidebar(shop, pages):
    for viewport in (WIDE, NARROW):
        page = pages.new(viewport)
        page.goto("/login/")
        expect(page.get_by_role("heading", name="Log in to Skyflo")).to_be_visible()
        screenshot(page, "login")
    # (wrong passwords and the throttle are covered by orgs/tests/test_views_pages.py)
    page.get_by_label("Email").fill(shop.operator.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="What should we do on your cluster?")).to_be_visible()
    # narrow: the sidebar hides behind a toggle
    expect(page.get_by_role("link", name="New conversation")).not_to_be_in_viewport()
    page.get_by_role("button", name="Conversations").click()
    expect(page.get_by_role("link", name="New conversation")).to_be_in_viewport()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Skyflo")).to_be_visible()


def test_settings_pages(shop, pages):
    page = pages.login(shop.owner)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    expect(page.locator("td").filter(has_text=shop.viewer.email).first).to_be_visible()
    screenshot(page, "settings-members")

    page.get_by_role("link", name="Invitations").click()
    newcomer = f"newcomer-{shop.org.slug}@example.com"
    page.get_by_label("Email").fill(newcomer)
    page.get_by_label("Role").select_option("operator")
    page.get_by_role("button", name="Create invitation").click()
    link = page.get_by_label("Invitation link")
    expect(link).to_be_visible()
    invitation_url = link.input_value()
    assert "/invitations/" in invitation_url
    screenshot(page, "settings-invitations")

    page.get_by_role("link", name="Teams").click()
    page.get_by_label("Team name").fill("sre")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", name="sre")).to_be_visible()
    screenshot(page, "settings-teams")

    page.get_by_role("link", name="Clusters").click()
    page.get_by_role("button", name="Test connection").first.click()
    expect(page.get_by_role("status").filter(has_text="Connected")).to_contain_text("helm_get_manifest")
    screenshot(page, "settings-clusters")

    narrow = pages.login(shop.owner, NARROW)
    narrow.get_by_role("link", name="Settings").click()  # reachable at 390 px too
    expect(narrow.get_by_role("heading", name="Members")).to_be_visible()
    for name, tab in (
        ("settings-members", ""),
        ("settings-invitations", "invitations/"),
        ("settings-teams", "teams/"),
        ("settings-clusters", "clusters/"),
    ):
        narrow.goto(f"/orgs/{shop.org.slug}/settings/{tab}")
        expect(narrow.get_by_role("heading", name=f"{shop.org.name} settings")).to_be_visible()
        screenshot(narrow, name)

    invited = pages.new()
    invited.goto(invitation_url)
    invited.get_by_label("Your name").fill("Newcomer")
    invited.get_by_label("Password").fill(PASSWORD)
    invited.get_by_role("button", name="Create account and join").click()
    expect(invited.get_by_text(f"You joined {shop.org.name}.")).to_be_visible()
    page.get_by_role("link", name="Members").click()
    expect(page.locator("td").filter(has_text=newcomer).first).to_be_visible()
