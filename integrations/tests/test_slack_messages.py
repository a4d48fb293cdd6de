"""Every approval request is posted to the org's Slack channel (or its cluster's) and the message follows the
approval: decided in the browser, through REST, in Slack, or expired. Slack being down never reaches the run."""

import logging
import time

import pytest
from django.utils import timezone

from integrations import tasks
from integrations.models import SlackClusterChannel, SlackMessage
from integrations.slack import APPROVE, DENY
from tests.accounts import bearer_client
from workflows import services as workflows_services
from workflows.expiry import approvals_expire
from workflows.models import Approval

pytestmark = pytest.mark.django_db


def request_approval(room, django_capture_on_commit_callbacks, **fields) -> Approval:
    """As the runtime does: the approval row is created and the post is queued when that commits."""
    with django_capture_on_commit_callbacks(execute=True):
        return room.waiting(by=room.trio.viewer, **fields)


def texts(blocks: list[dict]) -> str:
    parts = []
    for block in blocks:
        parts += [block.get("text", {}).get("text", "")] + [f["text"] for f in block.get("fields", [])]
        parts += [e.get("text", {}).get("text", "") if isinstance(e.get("text"), dict) else e.get("text", "")
                  for e in block.get("elements", [])]  # fmt: skip
    return "\n".join(parts)


def test_it_posts_the_request_with_buttons(room, connected, slack, eager_tasks, django_capture_on_commit_callbacks):
    approval = request_approval(room, django_capture_on_commit_callbacks)
    [post] = slack.posted()
    assert post["channel"] == "C0APPROVALS"
    shown = texts(post["blocks"])
    assert "Approval needed: k8s_scale" in shown
    assert room.trio.viewer.email in shown  # who asked
    assert "*Cluster*\nstaging" in shown
    assert "*Namespace*\nshop" in shown
    assert '"replicas": 3' in shown
    assert "+  replicas: 3" in shown
    assert f"<!date^{int(approval.expires_at.timestamp())}^" in shown
    [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        (APPROVE, str(approval.id)),
        (DENY, str(approval.id)),
    ]
    message = SlackMessage.objects.get(approval=approval)
    assert (message.channel, message.shown) == ("C0APPROVALS", "pending")


def test_a_cluster_with_its_own_channel_gets_it(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks
):
    SlackClusterChannel.objects.create(connection=connected, cluster=room.cluster, channel="C0STAGING")
    request_approval(room, django_capture_on_commit_callbacks)
    assert [p["channel"] for p in slack.posted()] == ["C0STAGING"]


def test_secrets_never_reach_the_message(room, connected, slack, eager_tasks, django_capture_on_commit_callbacks):
    args = {"name": "web", "namespace": "shop", "note": f"token={slack.token}", "auth": f"Bearer {slack.token}"}
    request_approval(room, django_capture_on_commit_callbacks, args=args, preview=f"sig {slack.signing_secret}")
    [post] = slack.posted()
    assert slack.token not in str(post)
    assert slack.signing_secret not in str(post)
    assert "[REDACTED]" in texts(post["blocks"])


def test_a_decision_in_the_browser_updates_the_message(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks
):
    approval = request_approval(room, django_capture_on_commit_callbacks)
    response = bearer_client(room.trio.operator).post(
        f"/api/v1/approvals/{approval.id}/decide/", {"decision": "approve", "reason": "go"}, format="json"
    )
    assert response.status_code == 200
    tasks.slack_approval_refresh.delay(str(approval.id))  # what the decision's commit queues
    [update] = slack.updates()
    assert (update["channel"], update["ts"]) == ("C0APPROVALS", SlackMessage.objects.get(approval=approval).ts)
    assert not [b for b in update["blocks"] if b["type"] == "actions"]  # no buttons once decided
    assert f"Approved by {room.trio.operator.email} in Skyflo: go" in texts(update["blocks"])
    assert SlackMessage.objects.get(approval=approval).shown == "approved"
    tasks.slack_approval_refresh.delay(str(approval.id))  # already up to date: no second update
    assert len(slack.updates()) == 1


def test_an_edit_before_the_decision_updates_the_message_with_the_new_arguments(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks
):
    approval = request_approval(room, django_capture_on_commit_callbacks)
    # What workflows.services.approval_edit saves once the tool server checked the edit and previewed it again.
    approval.proposed_args, approval.args = approval.args, {**approval.args, "replicas": 2}
    approval.preview, approval.edited_by = "-  replicas: 1\n+  replicas: 2", room.trio.operator
    with django_capture_on_commit_callbacks(execute=True):
        approval.save(update_fields=["args", "preview", "proposed_args", "edited_by"])
    [update] = slack.updates()
    shown = texts(update["blocks"])
    assert '"replicas": 2' in shown
    assert "+  replicas: 2" in shown
    assert [b for b in update["blocks"] if b["type"] == "actions"]  # still waiting: the buttons stay
    assert SlackMessage.objects.get(approval=approval).shown == "pending"


def test_the_decision_queues_the_update_after_commit(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks
):
    approval = request_approval(room, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        workflows_services.approval_decide(user=room.trio.operator, approval=approval, decision="deny", reason="no")
    for callback in callbacks:  # the event's send, the run's resume dispatch, the Slack update
        if "task_dispatch" in repr(callback.__code__.co_names):
            callback()
    [update] = slack.updates()
    assert f"Denied by {room.trio.operator.email} in Skyflo: no" in texts(update["blocks"])


def test_an_expired_approval_updates_the_message(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks
):
    approval = request_approval(room, django_capture_on_commit_callbacks)
    Approval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert approvals_expire() == 1
    assert len([c for c in callbacks if "task_dispatch" in c.__code__.co_names]) == 1
    tasks.slack_approval_refresh.delay(str(approval.id))
    [update] = slack.updates()
    assert ":hourglass: Not decided: Nobody decided before the approval expired." in texts(update["blocks"])


def test_slack_down_is_logged_and_the_approval_still_waits(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks, caplog, settings
):
    settings.INTEGRATIONS_RETRIES = 2
    slack.down = True
    with caplog.at_level(logging.WARNING, logger="integrations.tasks"):
        approval = request_approval(room, django_capture_on_commit_callbacks)
    failures = [r for r in caplog.records if r.name == "integrations.tasks"]
    assert [r.levelname for r in failures] == ["WARNING", "WARNING", "ERROR"]  # bounded: 1 + 2 retries
    assert f"Slack: posting approval {approval.id} failed 3 times; giving up" in failures[-1].getMessage()
    assert slack.token not in caplog.text
    approval.refresh_from_db()
    assert approval.decision == "pending"
    assert not SlackMessage.objects.filter(approval=approval).exists()
    response = bearer_client(room.trio.operator).post(
        f"/api/v1/approvals/{approval.id}/decide/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 200  # the browser decides as ever


def test_a_bad_channel_or_token_is_logged_not_raised(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks, caplog, settings
):
    settings.INTEGRATIONS_RETRIES = 0
    connected.channel = "C0GONE"
    connected.save()
    with caplog.at_level(logging.WARNING, logger="integrations.tasks"):
        request_approval(room, django_capture_on_commit_callbacks)
    assert "SlackApiError: channel_not_found" in caplog.text


def test_nothing_is_queued_for_an_org_without_slack(room, slack, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        room.waiting(by=room.trio.viewer)
    assert callbacks == []
    assert slack.calls == []


def test_a_cancelled_run_updates_its_waiting_message(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks
):
    approval = request_approval(room, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        response = bearer_client(room.trio.operator).post(f"/api/v1/runs/{approval.run_id}/cancel/")
    assert response.status_code == 202
    for callback in callbacks:  # the Slack update among the run's events
        if "task_dispatch" in callback.__code__.co_names:
            callback()
    [update] = slack.updates()
    assert "Not decided: the run was cancelled" in texts(update["blocks"])
    assert SlackMessage.objects.get(approval=approval).shown == "expired"


def test_a_redelivered_post_posts_once(room, connected, slack, eager_tasks, django_capture_on_commit_callbacks):
    approval = request_approval(room, django_capture_on_commit_callbacks)
    tasks.slack_approval_post.delay(str(approval.id))  # Celery delivers at least once
    assert len(slack.posted()) == 1


def test_a_failed_post_is_posted_by_its_retry(
    room, connected, slack, eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.INTEGRATIONS_RETRIES = 0
    slack.down = True
    approval = request_approval(room, django_capture_on_commit_callbacks)
    assert not SlackMessage.objects.filter(approval=approval).exists()
    slack.down = False
    tasks.slack_approval_post.delay(str(approval.id))  # as a later try would
    assert len(slack.posted()) == 1
    assert SlackMessage.objects.get(approval=approval).ts


@pytest.mark.django_db(transaction=True)
def test_embedded_mode_posts_from_a_thread_of_the_process(room, connected, slack, settings):
    settings.RUNS_IN_PROCESS = True  # no broker: the web process runs the task itself, off the request
    approval = room.waiting(by=room.trio.viewer)
    deadline = time.monotonic() + 30
    while not SlackMessage.objects.exclude(ts="").filter(approval=approval).exists():
        assert time.monotonic() < deadline, "never posted"
        time.sleep(0.05)
    assert [p["channel"] for p in slack.posted()] == ["C0APPROVALS"]
