"""Reloading mid-run (awaiting approval) and after the run shows what was there plus what came after, once."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.flows import ask, run_section, scale_script

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_reload_mid_run_loses_and_duplicates_nothing(shop, live_llm, pages):
    live_llm.set_script(scale_script(shop.namespace))
    question = "please scale web in shop to 3 replicas now"
    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, question)
    run = run_section(page)
    card = run.get_by_role("article", name="Approval for k8s_scale")
    expect(card.get_by_role("button", name="Approve")).to_be_visible()
    before = page.locator("#timeline").inner_text()

    page.reload()
    expect(page.locator("#timeline")).to_have_text(before, use_inner_text=True)
    expect(page.locator(".msg-user").filter(has_text=question)).to_have_count(1)
    expect(run.get_by_role("region", name="Plan")).to_have_count(1)
    card.get_by_role("button", name="Approve").click()
    expect(run.locator(".run-head .pill")).to_have_text("succeeded")

    page.reload()
    expect(run.locator(".run-head .pill")).to_have_text("succeeded")
    expect(page.locator(".msg-user").filter(has_text=question)).to_have_count(1)
    expect(page.locator("section.run")).to_have_count(1)
    expect(run.get_by_role("article", name="Approval for k8s_scale")).to_have_count(1)
    expect(run.get_by_role("article", name="Tool call k8s_scale")).to_have_count(1)
    expect(run.get_by_role("article", name="Tool call k8s_rollout_status")).to_have_count(1)
    expect(run.get_by_role("region", name="Verification")).to_have_count(1)
    expect(run.locator(".run-answer .msg-assistant")).to_have_count(1)
    expect(run.locator(".run-answer .msg-assistant")).to_have_text(re.compile(r"^Scaled web in shop to 3 replicas"))
    terminal = run.get_by_role("article", name="Tool call k8s_scale").get_by_role("log")
    expect(terminal).to_have_text("deployment.apps/web scaled\n")
    # every element keyed by an id (messages, runs, tool calls, approvals, plan steps) is there once
    for key in ("data-message-id", "data-run-id", "data-call-id", "data-approval-id", "data-step-id"):
        ids = page.locator(f"#timeline [{key}]").evaluate_all(f"els => els.map(e => e.getAttribute('{key}'))")
        assert ids, key
        assert len(ids) == len(set(ids)), (key, ids)
