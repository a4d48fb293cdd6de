"""Flows run by tests/browser/test_chat.py: sign-in and the settings pages (with "test connection"),
at 1280 px and 390 px."""

from playwright.sync_api import expect

from tests.accounts import PASSWORD
from tests.browser.conftest import NARROW, WIDE, screenshot


def login_flow(shop, pages):
    for viewport in (WIDE, NARROW):
        page = pages.new(viewport)
        page.goto("/login/")
        expect(page.get_by_role("heading", name="Log in to Skyflo")).to_be_visible()
        screenshot(page, "login")
    # (wrong passwords and the throttle are covered by orgs/tests/test_views_pages.py, not here: the per-IP
    # failure counter is shared by every browser test on 127.0.0.1)
    page.get_by_label("Email").fill(shop.operator.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="What should we do on your cluster?")).to_be_visible()
    # narrow: the sidebar hides behind a toggle
    toggle = page.get_by_role("button", name="Conversations")
    expect(page.get_by_role("link", name="New conversation")).not_to_be_in_viewport()
    toggle.click()
    expect(page.get_by_role("link", name="New conversation")).to_be_in_viewport()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Skyflo")).to_be_visible()


def settings_flow(shop, pages):
    page = pages.login(shop.owner)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    expect(page.locator("td").filter(has_text=shop.viewer.email).first).to_be_visible()
    screenshot(page, "settings-members")

    page.get_by_role("link", name="Invitations").click()
    page.get_by_label("Email").fill("newcomer@example.com")
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
    for name in ("settings-members", "settings-clusters"):
        narrow = pages.login(shop.owner, NARROW)
        tab = "" if name == "settings-members" else "clusters/"
        narrow.goto(f"/orgs/{shop.org.slug}/settings/{tab}")
        expect(narrow.get_by_role("heading", name=f"{shop.org.name} settings")).to_be_visible()
        screenshot(narrow, name)

    invited = pages.new()
    invited.goto(invitation_url)
    invited.get_by_label("Your name").fill("Newcomer")
    invited.get_by_label("Password").fill(PASSWORD)
    invited.get_by_role("button", name="Create account and join").click()
    expect(invited.get_by_text(f"You joined {shop.org.name}.")).to_be_visible()
