"""A viewer sees the run but no approve button and no settings, and the settings URL refuses them."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import NARROW
from tests.browser.flows import ASK, run_section, scale_script

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_viewer_cannot_decide_or_open_settings(shop, live_llm, pages):
    live_llm.set_script(scale_script(shop.namespace))
    shop.ask(ASK)
    page = pages.login(shop.viewer)
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    page.goto(f"/c/{shop.conversation_id}/")
    card = run_section(page).get_by_role("article", name="Approval for k8s_scale")
    expect(card).to_contain_text("Waiting for someone allowed to operate this cluster.")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Deny")).to_have_count(0)
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    response = page.goto(f"/orgs/{shop.org.slug}/settings/")
    assert response.status == 403
    response = page.goto(f"/orgs/{shop.org.slug}/settings/clusters/")
    assert response.status == 403
    narrow = pages.login(shop.viewer, NARROW)
    expect(narrow.get_by_role("link", name="Chat")).to_be_visible()
    expect(narrow.get_by_role("link", name="Settings")).to_have_count(0)
