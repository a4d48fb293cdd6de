"""Edit in the approval card (replicas 50 -> 5, preview made again), then Undo on the executed change: a new run
proposes the restoring call, approved in its own card; kubectl shows the deployment back as it was."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import NARROW, WIDE, screenshot
from tests.browser.flows import ask, run_section
from tests.scripted_llm import call, plan, say, verdict

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_edit_before_approving_then_undo(shop, live_llm, pages):
    ns = shop.namespace
    live_llm.set_script(
        [
            plan([("Scale deployment web to 50 replicas", "k8s_scale")]),
            call("k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 50}),
            verdict(True, "web scaled"),
            say("Scaled web to 5 replicas, as you set.", agent="responder"),
        ]
    )
    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, "scale web to 50")
    card = run_section(page).get_by_role("article", name="Approval for k8s_scale")
    expect(card.locator(".diff")).to_contain_text("replicas: 50")
    expect(card.locator(".undo-note")).to_contain_text("Undo will be offered")

    card.get_by_role("button", name="Edit").click()
    arguments = card.get_by_label("Arguments (JSON)")
    arguments.fill(arguments.input_value().replace("50", "5000"))
    card.get_by_role("button", name="Save arguments").click()
    expect(card.get_by_role("alert")).to_contain_text("k8s_scale's parameters")  # a sentence; nothing changed
    expect(card.locator(".diff")).to_contain_text("replicas: 50")
    arguments.fill(arguments.input_value().replace("5000", "5"))
    card.get_by_role("button", name="Save arguments").click()
    expect(card.locator(".diff")).to_contain_text("replicas: 5\n")
    expect(card.locator(".edit-note")).to_contain_text("Arguments edited by you")
    expect(card.locator(".args")).to_contain_text('"replicas": 5')
    card.scroll_into_view_if_needed()
    screenshot(page, "approval-edited")
    page.set_viewport_size(NARROW)
    card.scroll_into_view_if_needed()
    screenshot(page, "approval-edited")
    page.set_viewport_size(WIDE)

    card.get_by_role("button", name="Approve").click()
    expect(run_section(page).locator(".run-head .pill")).to_have_text("succeeded")
    assert shop.replicas_settled() == (5, 5)
    first_run = page.locator("section.run").first  # run_section() moves to the undo's run once it appears
    scale = first_run.get_by_role("article", name="Tool call k8s_scale")
    expect(scale.locator(".args")).to_contain_text('"replicas": 5')
    undo = scale.get_by_role("button", name="Undo")
    undo.scroll_into_view_if_needed()
    screenshot(page, "tool-call-undo")

    live_llm.set_script([verdict(True, "restored"), say("web is back to 1 replica.", agent="responder")])
    undo.click()
    expect(scale.get_by_role("button", name="Undo proposed")).to_be_disabled()
    restore = run_section(page).get_by_role("article", name="Approval for k8s_apply")
    expect(restore.locator(".diff")).to_contain_text("replicas: 1")
    restore.scroll_into_view_if_needed()
    screenshot(page, "approval-undo")
    restore.get_by_role("button", name="Approve").click()
    expect(run_section(page).locator(".run-head .pill")).to_have_text("succeeded")
    assert shop.replicas_settled() == (1, 1)
    assert pages.dialogs == []


def test_the_card_says_before_approving_that_a_namespace_delete_cannot_be_undone(shop, live_llm, pages):
    doomed = shop.sandbox.new_namespace("doomed")
    live_llm.set_script(
        [
            plan([("Delete the namespace", "k8s_delete")]),
            call("k8s_delete", {"kind": "namespace", "name": doomed}),
            say("Not deleted.", agent="responder"),
        ]
    )
    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, f"delete namespace {doomed}")
    card = run_section(page).get_by_role("article", name="Approval for k8s_delete")
    expect(card.locator('.undo-note[data-undo="none"]')).to_have_text(
        "No undo: a deleted namespace and everything in it cannot be restored."
    )
    card.scroll_into_view_if_needed()
    screenshot(page, "approval-no-undo")
    card.get_by_role("button", name="Deny").click()
    expect(run_section(page).locator(".run-head .pill")).to_have_text("denied")
