"""An admin connects the organisation's own model in Settings → Model and tests it; a run driven by a model that reads
only the schemas a request carries (tests/schema_llm.py) is then planned, approved, executed, verified and answered in
the chat. A model endpoint that cannot be reached is told in a sentence, never an address or an exception."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.flows import ask, run_section
from tests.schema_llm import goal
from tests.scripted_llm import plan, say

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def connect_model(page, org_slug: str, base_url: str) -> None:
    page.goto(f"/orgs/{org_slug}/settings/model/")
    page.get_by_label("Base URL").fill(base_url)
    page.get_by_label("Model", exact=True).fill("schema-only")
    page.get_by_label("API key").fill("sk-browser-test")
    page.get_by_role("button", name="Save model connection").click()
    expect(page.get_by_text("Model connection saved.")).to_be_visible()


def test_an_admin_connects_a_schema_only_model_and_a_run_succeeds_with_it(shop, schema_llm, live_llm, pages):
    target = {"kind": "deployment", "name": "web", "namespace": shop.namespace}
    schema_llm.configure(
        goals=[goal("k8s_scale", {**target, "replicas": 3}), goal("k8s_get", target)],
        answer="Scaled web to 3 replicas; all 3 are ready.",
        text="Scale web to 3 replicas",
    )
    live_llm.set_script([])  # the environment's model answers nothing: had the run asked it, the run would fail
    admin = pages.login(shop.owner)
    connect_model(admin, shop.org.slug, schema_llm.base_url)
    expect(admin.get_by_text("Runs of")).to_contain_text("schema-only")
    admin.get_by_role("button", name="Test connection").click()
    expect(admin.locator("#model-test")).to_contain_text("Supports: streaming yes, tools yes, json_schema yes")
    screenshot(admin, "settings-model")

    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, "scale web in shop to 3 replicas")
    expect(page.get_by_role("region", name="Plan")).to_contain_text("Scale web to 3 replicas")
    card = page.get_by_role("article", name="Approval for k8s_scale")
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("region", name="Verification")).to_contain_text("passed")
    answer = run_section(page).locator(".run-answer .msg-assistant")
    expect(answer).to_have_text("Scaled web to 3 replicas; all 3 are ready.")
    expect(run_section(page).locator(".run-head .pill")).to_have_text("succeeded")
    assert shop.replicas_settled() == (3, 3)


def test_an_unreachable_model_is_told_in_a_sentence(shop, live_llm, pages):
    # The environment's model would answer: had the run asked it instead of the org's, the run would succeed.
    live_llm.set_script([{**plan([]), "repeat": True}, {**say("Hello.", agent="responder"), "repeat": True}])
    admin = pages.login(shop.owner)
    connect_model(admin, shop.org.slug, "http://127.0.0.1:9/v1")
    admin.get_by_role("button", name="Test connection").click()
    expect(admin.locator("#model-test")).to_contain_text("Could not connect: The model endpoint could not be reached")

    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, "scale web in shop to 3 replicas")
    error = run_section(page).get_by_role("alert")
    expect(error).to_contain_text("The model endpoint could not be reached")
    expect(run_section(page).locator(".run-head .pill")).to_have_text("failed")
    for leak in ("127.0.0.1", "llm_unreachable", "Error", "http://"):
        expect(error).not_to_contain_text(leak)
