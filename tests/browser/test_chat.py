"""The chat UI in headless Chromium against daphne + Celery worker, the scripted LLM, the tool server and the
sandbox cluster: approve, deny, reload mid-run, inert XSS, what a viewer sees, and screenshots of each state."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import NARROW, WIDE, screenshot
from tests.scripted_llm import call, plan, say, verdict

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ASK = "scale web in shop to 3 replicas"
ANSWER = "Scaled **web** in `shop` to 3 replicas; all 3 are ready."
XSS = "<img src=x onerror=alert(1)> <script>alert(2)</script>"


def scale_script(ns: str, answer: str = ANSWER) -> list[dict]:
    return [
        plan([("Scale deployment web to 3 replicas", "k8s_scale"), ("Wait for the rollout", "k8s_rollout_status")]),
        call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 3}),
        call("k8s_rollout_status", {"kind": "deployment", "name": "web", "namespace": ns}),
        call("k8s_get", {"kind": "deployment", "name": "web", "namespace": ns}, agent="verifier"),
        verdict(True, "web has 3 ready replicas"),
        say(answer, agent="responder"),
    ]


def ask(page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def run_section(page):
    return page.locator("section.run").last


def _approve_flow(shop, live_llm, pages):
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
    screenshot(page, "chat-approval")
    page.set_viewport_size(NARROW)
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
    screenshot(page, "chat-finished")
    page.set_viewport_size(NARROW)
    screenshot(page, "chat-finished")
    assert shop.replicas() == (3, 3)
    assert pages.dialogs == []


def _deny_flow(shop, live_llm, pages):
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
    assert shop.replicas() == before


def _reload_flow(shop, live_llm, pages):
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
    expect(page.locator("#timeline")).to_have_text(before)
    expect(page.locator(".msg-user").filter(has_text=question)).to_have_count(1)
    expect(run.get_by_role("region", name="Plan")).to_have_count(1)
    card.get_by_role("button", name="Approve").click()
    expect(run.locator(".run-head .pill")).to_have_text("succeeded")

    page.reload()
    expect(run.locator(".run-head .pill")).to_have_text("succeeded")
    expect(page.locator(".msg-user").filter(has_text=question)).to_have_count(1)
    expect(run.get_by_role("article", name="Approval for k8s_scale")).to_have_count(1)
    expect(run.get_by_role("article", name="Tool call k8s_scale")).to_have_count(1)
    expect(run.get_by_role("region", name="Verification")).to_have_count(1)
    expect(run.locator(".run-answer .msg-assistant")).to_have_count(1)
    expect(run.locator(".run-answer .msg-assistant")).to_have_text(re.compile(r"^Scaled web in shop to 3 replicas"))
    terminal = run.get_by_role("article", name="Tool call k8s_scale").get_by_role("log")
    expect(terminal).to_have_text("deployment.apps/web scaled\n")


def _xss_flow(shop, live_llm, pages):
    shop.sandbox.kubectl("annotate", "-n", shop.namespace, "deployment/web", f"note={XSS}")
    live_llm.set_script(
        [
            plan([("Describe web", "k8s_describe")]),
            call("k8s_describe", {"kind": "deployment", "name": "web", "namespace": shop.namespace}),
            verdict(True, "described"),
            say(f"Here it is: {XSS}", agent="responder"),
        ]
    )
    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, f"describe web {XSS}")
    expect(page.locator(".msg-user").last).to_have_text(f"describe web {XSS}")
    expect(page.get_by_role("article", name="Tool call k8s_describe").locator(".result")).to_contain_text(
        "<img src=x onerror=alert(1)>"
    )
    answer = run_section(page).locator(".run-answer .msg-assistant")
    expect(answer).to_contain_text("<img src=x onerror=alert(1)>")
    expect(answer).to_contain_text("<script>alert(2)</script>")
    expect(page.locator("#timeline img")).to_have_count(0)
    expect(page.locator("#timeline script")).to_have_count(0)
    expect(run_section(page).locator(".run-head .pill")).to_have_text("succeeded")
    page.reload()
    expect(run_section(page).locator(".run-answer .msg-assistant")).to_contain_text("<script>alert(2)</script>")
    expect(page.locator("#timeline img")).to_have_count(0)
    assert pages.dialogs == []


def _viewer_flow(shop, live_llm, pages):
    live_llm.set_script(scale_script(shop.namespace))
    shop.ask(ASK)
    page = pages.login(shop.viewer)
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    page.goto(f"/c/{shop.conversation_id}/")
    card = run_section(page).get_by_role("article", name="Approval for k8s_scale")
    expect(card).to_contain_text("Waiting for someone allowed to operate this cluster.")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Deny")).to_have_count(0)
    response = page.goto(f"/orgs/{shop.org.slug}/settings/")
    assert response.status == 403


def test_the_chat_ui_in_a_real_browser(shop, live_llm, pages):
    # One test on one shop: the live daphne process caches content type ids, which a flush between
    # transactional tests renumbers (a second `shop` in the same session is refused its cluster).
    from tests.browser.flows_pages import login_flow, settings_flow

    login_flow(shop, pages)
    settings_flow(shop, pages)
    _approve_flow(shop, live_llm, pages)
    _deny_flow(shop, live_llm, pages)
    _reload_flow(shop, live_llm, pages)
    _xss_flow(shop, live_llm, pages)
    _viewer_flow(shop, live_llm, pages)
