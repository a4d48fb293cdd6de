"""/orgs/{slug}/integrations/slack/ and …/webhook/: admins and owners connect them; secrets are write-only, stored
encrypted, and never come back (API, page, audit, logs)."""

import pytest

from integrations.models import SlackClusterChannel, SlackConnection, WebhookConnection
from orgs.models import AuditEvent, Role
from orgs.tests.matrix import as_role, assert_refused
from tests.accounts import make_cluster, make_org

pytestmark = pytest.mark.django_db

TOKEN, SIGNING = "xoxb-1234-5678-abcdefghijkl", "8f14e45fceea167a5a36dedd4bea2543"
WEBHOOK_SECRET = "whsec-0123456789abcdef"


def slack_url(trio) -> str:
    return f"/api/v1/orgs/{trio.org.slug}/integrations/slack/"


def webhook_url(trio) -> str:
    return f"/api/v1/orgs/{trio.org.slug}/integrations/webhook/"


def slack_rows(trio):
    return list(SlackConnection.objects.filter(org=trio.org).values())


def test_it_connects_slack_for_admins_with_write_only_encrypted_secrets(trio, caplog):
    body = {"channel": "C0APPROVALS", "bot_token": TOKEN, "signing_secret": SIGNING}
    assert_refused(trio, "put", slack_url(trio), min_role=Role.ADMIN, data=body, snapshot=lambda: slack_rows(trio))
    assert_refused(trio, "get", slack_url(trio), min_role=Role.ADMIN)

    response = as_role(trio, "admin").put(slack_url(trio), body, format="json")

    assert response.status_code == 200, response.content
    shown = response.json()
    assert (shown["connected"], shown["channel"], shown["has_bot_token"], shown["has_signing_secret"]) == (
        True,
        "C0APPROVALS",
        True,
        True,
    )
    connection = SlackConnection.objects.get(org=trio.org)
    assert shown["interactivity_url"].endswith(f"/api/v1/integrations/slack/{connection.id}/interactions/")
    assert (connection.bot_token, connection.signing_secret) == (TOKEN, SIGNING)
    assert TOKEN not in connection.bot_token_encrypted
    assert SIGNING not in connection.signing_secret_encrypted
    for secret in (TOKEN, SIGNING):
        assert secret.encode() not in response.content
        assert secret.encode() not in as_role(trio, "owner").get(slack_url(trio)).content
        assert secret not in caplog.text
    audit = AuditEvent.objects.get(org=trio.org, action="slack_connection.updated")
    assert audit.data == {"changed": ["channel", "bot_token", "signing_secret"]}
    assert TOKEN not in str(audit.data)


def test_a_new_connection_needs_both_secrets_and_a_change_keeps_them(trio):
    admin = as_role(trio, "admin")
    response = admin.put(slack_url(trio), {"channel": "C0APPROVALS", "bot_token": TOKEN}, format="json")
    assert response.status_code == 400
    assert "signing_secret" in response.json()
    assert not SlackConnection.objects.filter(org=trio.org).exists()

    admin.put(slack_url(trio), {"channel": "C0A", "bot_token": TOKEN, "signing_secret": SIGNING}, format="json")
    assert admin.put(slack_url(trio), {"channel": "#ops"}, format="json").status_code == 200
    connection = SlackConnection.objects.get(org=trio.org)
    assert (connection.channel, connection.bot_token, connection.signing_secret) == ("#ops", TOKEN, SIGNING)


def test_clusters_get_channels_of_their_own_within_the_org(trio):
    staging, mine = make_cluster(trio.org, "staging"), make_cluster(make_org(), "theirs")
    admin = as_role(trio, "admin")
    body = {"channel": "C0A", "bot_token": TOKEN, "signing_secret": SIGNING}
    foreign = admin.put(
        slack_url(trio), body | {"cluster_channels": [{"cluster": str(mine.id), "channel": "C0X"}]}, format="json"
    )
    assert foreign.status_code == 400
    assert not SlackConnection.objects.filter(org=trio.org).exists()

    own = [{"cluster": str(staging.id), "channel": "C0STAGING"}]
    response = admin.put(slack_url(trio), body | {"cluster_channels": own}, format="json")
    assert response.status_code == 200
    assert response.json()["cluster_channels"] == own
    assert SlackConnection.objects.get(org=trio.org).channel_for(staging.id) == "C0STAGING"
    assert SlackClusterChannel.objects.count() == 1


def test_bad_channels_are_refused(trio):
    body = {"channel": "not a channel!", "bot_token": TOKEN, "signing_secret": SIGNING}
    response = as_role(trio, "admin").put(slack_url(trio), body, format="json")
    assert response.status_code == 400
    assert "channel" in response.json()


def test_disconnecting_slack(trio):
    admin = as_role(trio, "owner")
    admin.put(slack_url(trio), {"channel": "C0A", "bot_token": TOKEN, "signing_secret": SIGNING}, format="json")
    assert_refused(trio, "delete", slack_url(trio), min_role=Role.ADMIN, snapshot=lambda: slack_rows(trio))
    assert admin.delete(slack_url(trio)).status_code == 204
    assert admin.get(slack_url(trio)).json()["connected"] is False
    assert AuditEvent.objects.filter(org=trio.org, action="slack_connection.deleted").count() == 1


def test_it_sets_the_webhook_acting_as_the_admin_who_saved_it(trio, settings):
    body = {"url": "https://hooks.example.com/skyflo", "secret": WEBHOOK_SECRET}
    rows = lambda: list(WebhookConnection.objects.filter(org=trio.org).values())  # noqa: E731
    assert_refused(trio, "put", webhook_url(trio), min_role=Role.ADMIN, data=body, snapshot=rows)

    response = as_role(trio, "admin").put(webhook_url(trio), body, format="json")

    assert response.status_code == 200, response.content
    shown = response.json()
    assert (shown["url"], shown["has_secret"], shown["acts_as"]["email"]) == (body["url"], True, trio.admin.email)
    assert WEBHOOK_SECRET.encode() not in response.content
    connection = WebhookConnection.objects.get(org=trio.org)
    assert connection.secret == WEBHOOK_SECRET
    assert WEBHOOK_SECRET not in connection.secret_encrypted
    again = as_role(trio, "owner").put(webhook_url(trio), {"url": body["url"]}, format="json")
    assert again.json()["acts_as"]["email"] == trio.owner.email  # whoever saves it last answers for it
    assert WebhookConnection.objects.get(org=trio.org).secret == WEBHOOK_SECRET


def test_the_webhook_may_not_point_into_internal_networks(trio, settings):
    settings.MCP_ALLOWED_NETWORKS = []
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://10.0.0.5/x"):
        response = as_role(trio, "admin").put(webhook_url(trio), {"url": url, "secret": WEBHOOK_SECRET}, format="json")
        assert response.status_code == 400, url
        assert "internal network" in response.json()["url"][0]
    assert not WebhookConnection.objects.filter(org=trio.org).exists()


def test_a_short_or_missing_webhook_secret_is_refused(trio):
    admin = as_role(trio, "admin")
    assert admin.put(webhook_url(trio), {"url": "https://hooks.example.com/a"}, format="json").status_code == 400
    short = admin.put(webhook_url(trio), {"url": "https://hooks.example.com/a", "secret": "short"}, format="json")
    assert short.status_code == 400
    assert not WebhookConnection.objects.filter(org=trio.org).exists()


def test_the_settings_page_is_for_admins(trio, client):
    url = f"/orgs/{trio.org.slug}/settings/integrations/"
    for who, expected in (("outsider", 404), ("viewer", 403), ("operator", 403)):
        client.force_login(getattr(trio, who))
        assert client.get(url).status_code == expected, who
    client.force_login(trio.admin)
    page = client.get(url)
    assert page.status_code == 200
    assert b"Connect a Slack app" in page.content
    form = {"action": "slack-save", "slack-channel": "C0APPROVALS", "slack-bot_token": TOKEN,
            "slack-signing_secret": SIGNING}  # fmt: skip
    assert client.post(url, form).status_code == 302
    page = client.get(url)
    connection = SlackConnection.objects.get(org=trio.org)
    assert f"/api/v1/integrations/slack/{connection.id}/interactions/".encode() in page.content
    assert TOKEN.encode() not in page.content
    assert SIGNING.encode() not in page.content
    client.force_login(trio.operator)
    assert client.post(url, {"action": "slack-remove"}).status_code == 403
    assert SlackConnection.objects.filter(org=trio.org).exists()
