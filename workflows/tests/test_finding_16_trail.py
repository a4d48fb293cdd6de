"""Finding 16: approvals, decisions, cancels, shares and deletions were not audited, and deleting a conversation
or a user cascaded away its runs, approvals and tool-call ledger. Every one is audited now; a deleted
conversation is hidden, not erased, and a person with a trail is deactivated, not deleted."""

import pytest
from django.test import Client
from django.utils import timezone

from chats.models import Conversation
from orgs.models import AuditEvent, User
from tests.accounts import bearer_client, make_team, make_user
from workflows import expiry
from workflows.models import Approval, Run, ToolCall

pytestmark = pytest.mark.django_db


def _finished_run_with_trail(room) -> Run:
    run = room.run(status=Run.Status.SUCCEEDED, finished_at=timezone.now())
    approval = room.approval(run, decision=Approval.Decision.APPROVED, decided_by=room.trio.operator)
    ToolCall.objects.create(run=run, call_id=approval.call_id, tool="k8s_scale", args=approval.args, mutating=True)
    return run


def _actions(**filters) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("created_at").values_list("action", flat=True))


def test_finding_16_deleting_a_conversation_keeps_runs_approvals_and_ledger(room):
    run = _finished_run_with_trail(room)
    owner = bearer_client(room.trio.operator)
    url = f"/api/v1/conversations/{room.conversation.pk}/"

    assert owner.delete(url).status_code == 204

    assert owner.get(url).status_code == 404
    assert bearer_client(room.trio.admin).get(f"/api/v1/runs/{run.pk}/").status_code == 404
    assert room.conversation.pk not in [c["id"] for c in owner.get("/api/v1/conversations/").json()["results"]]
    assert (Run.objects.filter(pk=run.pk).count(), Approval.objects.filter(run=run).count()) == (1, 1)
    assert ToolCall.objects.filter(run=run).count() == 1
    event = AuditEvent.objects.get(action="conversation.deleted")
    assert (event.actor, event.target_id, event.org) == (room.trio.operator, str(room.conversation.pk), room.trio.org)


def test_finding_16_a_conversation_with_a_running_request_is_not_deleted(room):
    room.run(status=Run.Status.AWAITING_APPROVAL)
    response = bearer_client(room.trio.operator).delete(f"/api/v1/conversations/{room.conversation.pk}/")
    assert response.status_code == 409
    assert Conversation.objects.get(pk=room.conversation.pk).deleted_at is None


def test_finding_16_a_person_with_a_trail_is_not_deleted_with_it(room):
    run = _finished_run_with_trail(room)
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))

    response = staff.post(f"/admin/orgs/user/{room.trio.operator.pk}/delete/", {"post": "yes"})

    assert response.status_code == 200  # Django's "cannot delete: protected objects" page
    assert User.objects.filter(pk=room.trio.operator.pk).exists()
    assert Run.objects.filter(pk=run.pk).exists()
    assert Approval.objects.filter(run=run).exists()


def test_finding_16_decisions_cancels_and_shares_are_audited(room):
    waiting = room.run(status=Run.Status.AWAITING_APPROVAL, by=room.trio.viewer)
    approval = room.approval(waiting)
    body = {"decision": "deny", "reason": "not on a Friday"}
    response = bearer_client(room.trio.operator).post(f"/api/v1/approvals/{approval.pk}/decide/", body, format="json")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="approval.denied")
    assert (event.actor, event.target_id, event.org) == (room.trio.operator, str(approval.pk), room.trio.org)
    assert event.data["reason"] == "not on a Friday"
    assert event.data["tool"] == "k8s_scale"

    queued = room.run(status=Run.Status.QUEUED)
    assert bearer_client(room.trio.operator).post(f"/api/v1/runs/{queued.pk}/cancel/").status_code in (200, 202)
    assert AuditEvent.objects.get(action="run.cancelled").target_id == str(queued.pk)

    team = make_team(room.trio.org, "sre")
    owner = bearer_client(room.trio.operator)
    shares = f"/api/v1/conversations/{room.conversation.pk}/shares/"
    assert owner.post(shares, {"team": str(team.pk)}, format="json").status_code == 201
    assert owner.delete(f"{shares}{team.pk}/").status_code == 204
    assert _actions(target_id=str(room.conversation.pk)) == ["conversation.shared", "conversation.unshared"]


def test_finding_16_expiry_is_audited(room):
    waiting = room.run(status=Run.Status.AWAITING_APPROVAL)
    approval = room.approval(waiting, expires_at=timezone.now() - timezone.timedelta(seconds=1))
    assert expiry.approvals_expire() == 1
    event = AuditEvent.objects.get(action="approval.expired")
    assert (event.actor, event.target_id) == (None, str(approval.pk))
