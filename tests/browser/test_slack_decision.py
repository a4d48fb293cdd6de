"""An approval decided in Slack shows up in the browser's card: approved by a teammate in Slack, marked
`via Slack`; the run continues in front of the person who asked."""

import time

import httpx
import pytest
from playwright.sync_api import expect

from integrations.models import SlackConnection, SlackMessage
from integrations.slack import APPROVE
from tests.browser.conftest import screenshot
from tests.browser.flows import ASK, ask, run_section, scale_script

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_the_card_shows_a_decision_made_in_slack(shop, live_llm, pages, slack_server):
    workspace = slack_server.workspace()
    approver = workspace.add_user(shop.operator2.email)
    with shop.client(shop.owner) as owner:
        body = {"channel": "C0APPROVALS", "bot_token": workspace.token, "signing_secret": workspace.signing_secret}
        assert owner.put(f"/orgs/{shop.org.slug}/integrations/slack/", json=body).status_code == 200
    connection = SlackConnection.objects.get(org=shop.org)
    live_llm.set_script(scale_script(shop.namespace))

    page = pages.login(shop.operator)
    page.goto(f"/c/{shop.conversation_id}/")
    ask(page, ASK)
    card = run_section(page).get_by_role("article", name="Approval for k8s_scale")
    expect(card.get_by_role("button", name="Approve")).to_be_visible()
    approval_id = card.get_attribute("data-approval-id")
    message = _wait(lambda: SlackMessage.objects.filter(approval_id=approval_id).first())

    request_body, headers = workspace.interaction(
        user_id=approver,
        action_id=APPROVE,
        approval_id=approval_id,
        message={"channel": message.channel, "ts": message.ts},
    )
    url = f"{shop.stack.url}/api/v1/integrations/slack/{connection.id}/interactions/"
    assert httpx.post(url, content=request_body, headers=headers).status_code == 200

    expect(card.locator(".decision-note")).to_have_text("Approved by a teammate in Slack.")
    expect(card.locator(".decision-source")).to_have_text("via Slack")
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    expect(run_section(page).locator(".run-head .pill")).to_have_text("succeeded")
    card.scroll_into_view_if_needed()
    screenshot(page, "chat-approval-decided-in-slack")
    page.reload()  # replayed from the event log: the source is kept
    card = run_section(page).get_by_role("article", name="Approval for k8s_scale")
    expect(card.locator(".decision-source")).to_have_text("via Slack")
    assert pages.dialogs == []


def _wait(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "the Slack message was never posted"
        time.sleep(0.1)
    return result


def test_an_admin_connects_slack_and_a_webhook_in_settings(shop, pages):
    page = pages.login(shop.owner)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Integrations").click()
    slack = page.get_by_role("region", name="Slack")
    slack.get_by_label("Channel", exact=True).fill("C0APPROVALS")
    slack.get_by_label("Bot token").fill("xoxb-browser-test-token-1234")
    slack.get_by_label("Signing secret").fill("browser-test-signing-secret")
    slack.get_by_label("Channel for staging").fill("C0STAGING")
    slack.get_by_role("button", name="Save Slack connection").click()
    expect(page.get_by_text("Slack connection saved.")).to_be_visible()
    connection = SlackConnection.objects.get(org=shop.org)
    expect(page.locator("#slack-interactivity-url")).to_have_text(
        f"{shop.stack.url}/api/v1/integrations/slack/{connection.id}/interactions/"
    )
    expect(slack).to_contain_text("C0STAGING")
    expect(slack.get_by_label("Bot token")).to_have_value("")  # never sent back

    webhook = page.get_by_role("region", name="Webhook")
    webhook.get_by_label("URL").fill("http://127.0.0.1:9/skyflo")
    webhook.get_by_label("Secret").fill("webhook-secret-0123456789")
    webhook.get_by_role("button", name="Save webhook").click()
    expect(page.get_by_text("Webhook saved.")).to_be_visible()
    expect(page.get_by_role("region", name="Webhook")).to_contain_text(f"recorded as made by {shop.owner.email}")
    screenshot(page, "settings-integrations")
    for secret in ("xoxb-browser-test-token-1234", "browser-test-signing-secret", "webhook-secret-0123456789"):
        assert secret not in page.content()
    assert connection.channel_for(shop.cluster.id) == "C0STAGING"
