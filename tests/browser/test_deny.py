"""Deny in the card: the answer says it was not done and the cluster is unchanged."""

import pytest
from playwright.sync_api import expect

from tests.browser.flows import ASK, ask, run_section
from tests.scripted_llm import call, plan, say

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_deny_leaves_the_cluster_alone(shop, live_llm, pages):
    live_llm.set_script(
        [
            plan([("Scale deployment web to 3 replicas", "k8s_scale")]),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": shop.namespace, "replicas": 3}),
            say("I did not scale web: the change was denied.", agent="responder"),
        ]
    )
    before = shop.replicas()
    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, ASK)
    card = run_section(page).get_by_role("article", name="Approval for k8s_scale")
    card.get_by_label("Reason").fill("not during the sale")
    card.get_by_role("button", name="Deny").click()
    expect(card).to_contain_text("Denied by you: not during the sale")
    expect(run_section(page).locator(".run-head .pill")).to_have_text("denied")
    expect(run_section(page).get_by_role("article", name="Tool call k8s_scale")).to_have_count(0)
    expect(run_section(page).locator(".run-answer .msg-assistant")).to_contain_text("did not scale web")
    assert shop.replicas() == before == (1, 1)
