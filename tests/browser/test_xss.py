"""Markup in a user message, an assistant answer and tool output renders as inert text."""

import pytest
from playwright.sync_api import expect

from tests.browser.flows import XSS, ask, run_section
from tests.scripted_llm import call, plan, say, verdict

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_markup_everywhere_renders_as_text(shop, live_llm, pages):
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
    expect(page.locator(".msg-user").last).to_have_text(f"describe web {XSS}")
    expect(run_section(page).locator(".run-answer .msg-assistant")).to_contain_text("<script>alert(2)</script>")
    expect(page.get_by_role("article", name="Tool call k8s_describe").locator(".result")).to_contain_text(
        "<img src=x onerror=alert(1)>"
    )
    expect(page.locator("#timeline img")).to_have_count(0)
    expect(page.locator("#timeline script")).to_have_count(0)
    assert pages.dialogs == []
