"""The generic webhook: each approval request is POSTed, signed, to the org's URL with a token that decides that
approval, and only it, through the ordinary decide endpoint, as the admin who configured the webhook."""

import hashlib
import hmac
import logging
import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chats.models import RunEvent
from integrations import services
from integrations.tests.conftest import payload_of
from orgs.models import AuditEvent
from tests.accounts import bearer_client
from workflows.models import Approval

pytestmark = pytest.mark.django_db
SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def hooked(room, receiver):
    return services.webhook_connection_set(actor=room.trio.admin, org=room.trio.org, url=receiver.url, secret=SECRET)


def requested(room, django_capture_on_commit_callbacks, by=None) -> Approval:
    with django_capture_on_commit_callbacks(execute=True):
        return room.waiting(by=by or room.trio.viewer)


def token_of(receiver, approval) -> str:
    for request in receiver.requests:
        payload = payload_of(request)
        if payload["approval"]["id"] == str(approval.id):
            return payload["decide"]["headers"]["Authorization"].removeprefix("Approval ")
    raise AssertionError("no delivery for this approval")


def decide(approval, token, decision="approve", *, scheme="Approval"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client.post(
        f"/api/v1/approvals/{approval.id}/decide/", {"decision": decision, "reason": "on call"}, format="json"
    )


def test_the_request_is_posted_signed(room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks):
    approval = requested(room, django_capture_on_commit_callbacks)
    [request] = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    stamp = headers["x-skyflo-timestamp"]
    assert abs(int(stamp) - time.time()) < 300
    expected = hmac.new(SECRET.encode(), f"v1:{stamp}:".encode() + request["body"], hashlib.sha256).hexdigest()
    assert headers["x-skyflo-signature"] == f"v1={expected}"
    payload = payload_of(request)
    assert payload["type"] == "approval.requested"
    assert payload["approval"] | {"expires_at": None} == {
        "id": str(approval.id),
        "tool": "k8s_scale",
        "args": approval.args,
        "preview": approval.preview,
        "requested_by": room.trio.viewer.email,
        "cluster": "staging",
        "namespace": "shop",
        "expires_at": None,
        "link": None,
    }
    assert payload["decide"]["path"] == f"/api/v1/approvals/{approval.id}/decide/"
    assert SECRET not in request["body"].decode()


def test_the_token_decides_its_approval_as_the_admin_who_configured_it(
    room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    approval = requested(room, django_capture_on_commit_callbacks)
    response = decide(approval, token_of(receiver, approval))
    assert response.status_code == 200, response.content
    approval.refresh_from_db()
    assert (approval.decision, approval.decided_by, approval.reason) == ("approved", room.trio.admin, "on call")
    audit = AuditEvent.objects.get(action="approval.approved", target_id=str(approval.id))
    assert (audit.actor, audit.data["source"]) == (room.trio.admin, "webhook")
    event = RunEvent.objects.get(run_id=approval.run_id, type="approval.resolved")
    assert event.data["source"] == "webhook"
    assert decide(approval, token_of(receiver, approval), "deny").status_code == 409  # decided: once


def test_the_receiver_is_told_the_outcome_wherever_it_was_decided(
    room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    approval = requested(room, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        response = bearer_client(room.trio.operator).post(
            f"/api/v1/approvals/{approval.id}/decide/", {"decision": "deny", "reason": "not today"}, format="json"
        )
    assert response.status_code == 200
    for callback in callbacks:  # the webhook's delivery among the run's own after-commit work
        if "task_dispatch" in callback.__code__.co_names:
            callback()
    outcome = payload_of(receiver.requests[-1])
    assert outcome == {
        "type": "approval.resolved",
        "approval": {
            "id": str(approval.id),
            "tool": "k8s_scale",
            "cluster": "staging",
            "namespace": "shop",
            "decision": "denied",
            "decided_by": room.trio.operator.email,
            "source": "browser",
            "reason": "not today",
        },
    }
    assert "decide" not in outcome  # no token once decided


def test_a_token_for_another_approval_is_refused(
    room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    first = requested(room, django_capture_on_commit_callbacks)
    second = requested(room, django_capture_on_commit_callbacks)
    response = decide(second, token_of(receiver, first))
    assert response.status_code == 401
    assert response.json()["detail"] == "This approval token was issued for another approval."
    second.refresh_from_db()
    assert second.decision == "pending"


def test_a_token_opens_nothing_else(room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks):
    approval = requested(room, django_capture_on_commit_callbacks)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Approval {token_of(receiver, approval)}")
    for url in (f"/api/v1/runs/{approval.run_id}/", "/api/v1/auth/me/", f"/api/v1/runs/{approval.run_id}/cancel/"):
        response = client.get(url) if "cancel" not in url else client.post(url)
        assert response.status_code == 401, url
        assert response.json()["detail"] == "An approval token only decides its own approval."
    approval.refresh_from_db()
    assert approval.run.status == "awaiting_approval"


@pytest.mark.parametrize("change", ["tampered", "as bearer", "secret rotated", "removed", "expired"])
def test_bad_tokens_change_nothing(room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks, change):
    approval = requested(room, django_capture_on_commit_callbacks)
    token = token_of(receiver, approval)
    scheme = "Approval"
    if change == "tampered":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    if change == "as bearer":
        scheme = "Bearer"
    if change == "secret rotated":
        services.webhook_connection_set(actor=room.trio.admin, org=room.trio.org, url=receiver.url, secret=SECRET + "2")
    if change == "removed":
        services.webhook_connection_delete(actor=room.trio.admin, org=room.trio.org)
    if change == "expired":
        Approval.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    response = decide(approval, token, scheme=scheme)
    assert response.status_code == (409 if change == "expired" else 401)  # expired: the approval, not the token
    approval.refresh_from_db()
    assert approval.decision == "pending"


def test_four_eyes_holds_for_the_webhooks_identity(
    room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    room.trio.org.four_eyes = True
    room.trio.org.save()
    own = requested(room, django_capture_on_commit_callbacks, by=room.trio.admin)  # asked by the webhook's admin
    response = decide(own, token_of(receiver, own))
    assert response.status_code == 403
    assert "Four-eyes" in response.json()["detail"]
    own.refresh_from_db()
    assert own.decision == "pending"


def test_a_failing_receiver_is_logged_and_retried_a_bounded_number_of_times(
    room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks, caplog, settings
):
    settings.INTEGRATIONS_RETRIES = 1
    receiver.status = 500
    with caplog.at_level(logging.WARNING, logger="integrations.tasks"):
        approval = requested(room, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 2
    assert f"webhook: delivering approval {approval.id} failed 2 times; giving up" in caplog.text
    assert "the receiver answered 500" in caplog.text
    assert receiver.url not in caplog.text  # a webhook URL may carry its own secret
    approval.refresh_from_db()
    assert approval.decision == "pending"


def test_the_webhook_decides_only_what_its_admin_could_decide_in_the_browser(
    room, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    # The owner saved the webhook but the conversation was never shared with them: 404, as in the browser.
    services.webhook_connection_set(actor=room.trio.owner, org=room.trio.org, url=receiver.url, secret=SECRET)
    approval = requested(room, django_capture_on_commit_callbacks)
    response = decide(approval, token_of(receiver, approval))
    assert response.status_code == 404
    approval.refresh_from_db()
    assert approval.decision == "pending"


def test_an_edit_before_the_decision_is_delivered_again_with_the_new_arguments(
    room, hooked, receiver, eager_tasks, django_capture_on_commit_callbacks
):
    approval = requested(room, django_capture_on_commit_callbacks)
    # What workflows.services.approval_edit saves once the tool server checked the edit and previewed it again.
    approval.proposed_args, approval.args = approval.args, {**approval.args, "replicas": 2}
    approval.preview, approval.edited_by = "+  replicas: 2", room.trio.operator
    with django_capture_on_commit_callbacks(execute=True):
        approval.save(update_fields=["args", "preview", "proposed_args", "edited_by"])
    first, again = (payload_of(r) for r in receiver.requests)
    assert first["approval"]["args"]["replicas"] != 2
    assert again["type"] == "approval.requested"
    assert (again["approval"]["args"]["replicas"], again["approval"]["preview"]) == (2, "+  replicas: 2")
