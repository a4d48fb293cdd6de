"""The first scenario clicked through: log in, ask, the plan appears, approve in the card, terminal lines appear
live, the verified answer appears; then kubectl shows the change."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import NARROW, WIDE, screenshot
from tests.browser.flows import ASK, run_section, scale_script

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_ask_approve_and_see_it_done(shop, live_llm, pages):
    live_llm.set_script(scale_script(shop.namespace))
    page = pages.login(shop.operator)
    # A new conversation from the home page: cluster and namespace picker, then the first message.
    expect(page.get_by_label("Namespace")).to_have_value(shop.namespace)
    page.get_by_label("Message").fill(ASK)
    page.get_by_role("button", name="Start conversation").click()
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}/$"))
    expect(page.locator(".msg-user")).to_have_text(ASK)

    plan_panel = page.get_by_role("region", name="Plan")
    expect(plan_panel).to_contain_text("Scale deployment web to 3 replicas")
    card = page.get_by_role("article", name="Approval for k8s_scale")
    expect(card.locator(".diff")).to_contain_text("replicas")
    expect(card).to_contain_text("expires")
    assert shop.replicas() == (1, 1)
    card.get_by_role("button", name="Approve").scroll_into_view_if_needed()
    screenshot(page, "chat-approval")
    page.set_viewport_size(NARROW)
    card.get_by_role("button", name="Approve").scroll_into_view_if_needed()
    screenshot(page, "chat-approval")
    page.set_viewport_size(WIDE)

    card.get_by_label("Reason").fill("sale today")
    card.get_by_role("button", name="Approve").click()
    expect(card).to_contain_text("Approved by you: sale today")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)

    scale = page.get_by_role("article", name="Tool call k8s_scale")
    expect(scale.get_by_role("log")).to_contain_text("scaled")
    rollout = page.get_by_role("article", name="Tool call k8s_rollout_status")
    expect(rollout.get_by_role("log")).to_contain_text("successfully rolled out")
    expect(plan_panel.locator('li[data-state="succeeded"]')).to_have_count(2)
    expect(page.get_by_role("region", name="Verification")).to_contain_text("passed")
    answer = run_section(page).locator(".run-answer .msg-assistant")
    expect(answer).to_have_count(1)
    expect(answer.locator("strong")).to_have_text("web")
    expect(answer.locator("code")).to_have_text("shop")
    expect(run_section(page).locator(".run-head .pill")).to_have_text("succeeded")
    expect(run_section(page).locator(".run-usage")).to_contain_text("tokens")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    answer.scroll_into_view_if_needed()
    screenshot(page, "chat-finished")
    page.set_viewport_size(NARROW)
    answer.scroll_into_view_if_needed()
    screenshot(page, "chat-finished")
    assert shop.replicas() == (3, 3)  # kubectl: 3 desired, 3 ready (the run waited for the rollout)
    assert pages.dialogs == []
