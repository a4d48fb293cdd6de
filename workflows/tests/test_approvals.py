import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from chats.models import RunEvent
from orgs.models import Role
from tests.accounts import bearer_client, make_member
from workflows import expiry
from workflows.models import Approval, Run

pytestmark = pytest.mark.django_db


def decide(user, approval, decision="approve", reason=""):
    return bearer_client(user).post(
        f"/api/v1/approvals/{approval.id}/decide/", {"decision": decision, "reason": reason}, format="json"
    )


@pytest.fixture
def waiting(room):
    run = room.run(status=Run.Status.AWAITING_APPROVAL, by=room.trio.viewer)
    return room.approval(run)


def test_an_operator_approves_and_the_run_resumes(room, waiting, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = decide(room.trio.operator, waiting, reason="ok")
    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "approved"
    waiting.refresh_from_db()
    assert (waiting.decision, waiting.decided_by, waiting.reason) == ("approved", room.trio.operator, "ok")
    event = RunEvent.objects.get(run_id=waiting.run_id, type="approval.resolved")
    assert event.data == {
        "approval_id": str(waiting.id),
        "decision": "approve",
        "by": str(room.trio.operator.id),
        "reason": "ok",
        "source": "browser",
    }
    assert len(callbacks) == 2  # the event's send and the resume dispatch


def test_a_denial_is_recorded(room, waiting):
    assert decide(room.trio.operator, waiting, "deny", "not now").status_code == 200
    waiting.refresh_from_db()
    assert waiting.decision == "denied"


@pytest.mark.parametrize("who", ["viewer", "admin_without_membership"])
def test_who_may_not_decide(room, waiting, who):
    user = room.trio.viewer if who == "viewer" else make_member(room.trio.org, Role.OPERATOR)
    if who != "viewer":
        assign_perm("orgs.use_cluster", user, room.cluster)  # may use, not operate
        assign_perm("chats.view_conversation", user, room.conversation)
    assert decide(user, waiting).status_code == 403
    waiting.refresh_from_db()
    assert waiting.decision == "pending"


def test_admins_decide_without_an_explicit_grant(room, waiting):
    assert decide(room.trio.admin, waiting).status_code == 200


def test_outsiders_and_anonymous_see_nothing(room, waiting, anon_client):
    assert decide(room.trio.outsider, waiting).status_code == 404
    url = f"/api/v1/approvals/{waiting.id}/decide/"
    assert anon_client.post(url, {"decision": "approve"}, format="json").status_code == 401


def test_deciding_twice_conflicts(room, waiting):
    assert decide(room.trio.operator, waiting).status_code == 200
    assert decide(room.trio.admin, waiting, "deny").status_code == 409
    waiting.refresh_from_db()
    assert waiting.decision == "approved"


def test_an_expired_approval_cannot_be_decided(room, waiting):
    Approval.objects.filter(pk=waiting.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    assert decide(room.trio.operator, waiting).status_code == 409


def test_four_eyes_forbids_approving_ones_own_request(room):
    room.trio.org.four_eyes = True
    room.trio.org.save()
    run = room.run(status=Run.Status.AWAITING_APPROVAL, by=room.trio.operator)
    approval = room.approval(run)
    assert decide(room.trio.operator, approval).status_code == 403
    assert decide(room.trio.operator, approval, "deny").status_code == 200  # withdrawing is fine


def test_a_bad_decision_is_400(room, waiting):
    assert decide(room.trio.operator, waiting, "maybe").status_code == 400


def test_overdue_approvals_expire_and_resume_their_runs(room, waiting, django_capture_on_commit_callbacks):
    fresh_run = room.run(status=Run.Status.AWAITING_APPROVAL)
    fresh = room.approval(fresh_run)
    Approval.objects.filter(pk=waiting.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as callbacks:
        assert expiry.approvals_expire() == 1
    waiting.refresh_from_db()
    fresh.refresh_from_db()
    assert (waiting.decision, fresh.decision) == ("expired", "pending")
    event = RunEvent.objects.get(run_id=waiting.run_id, type="approval.resolved")
    assert (event.data["decision"], event.data["by"]) == ("expired", None)
    assert len(callbacks) == 2
