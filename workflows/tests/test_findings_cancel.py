"""Finding 28: cancelling a run needs the right to operate its cluster (or to be the one who asked for it)."""

import pytest
from guardian.shortcuts import assign_perm

from orgs.models import Role
from tests.accounts import bearer_client, make_member
from workflows.models import Approval, Run

pytestmark = pytest.mark.django_db


def cancel(user, run):
    return bearer_client(user).post(f"/api/v1/runs/{run.id}/cancel/")


@pytest.mark.parametrize("status", [Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.AWAITING_APPROVAL])
def test_finding_28_an_operator_without_a_grant_on_the_cluster_cannot_cancel(room, status):
    run = room.run(status=status)
    approval = room.approval(run) if status == Run.Status.AWAITING_APPROVAL else None
    ungranted = make_member(room.trio.org, Role.OPERATOR)
    assign_perm("chats.view_conversation", ungranted, room.conversation)  # sees the run, may not operate
    unseeing = make_member(room.trio.org, Role.OPERATOR)
    assign_perm("orgs.operate_cluster", unseeing, room.cluster)  # may operate, does not see the conversation

    forbidden = cancel(ungranted, run)
    hidden = cancel(unseeing, run)

    assert forbidden.status_code == 403, forbidden.content
    assert "operate" in forbidden.json()["detail"]
    assert hidden.status_code == 404, hidden.content
    run.refresh_from_db()
    assert (run.status, run.cancel_requested) == (status, False)
    if approval is not None:
        approval.refresh_from_db()
        assert approval.decision == Approval.Decision.PENDING


def test_finding_28_an_operator_with_the_grant_and_the_requester_may_cancel(room):
    granted = make_member(room.trio.org, Role.OPERATOR)
    assign_perm("chats.view_conversation", granted, room.conversation)
    assign_perm("orgs.operate_cluster", granted, room.cluster)
    theirs = room.run(by=room.trio.viewer)
    other = room.run(status=Run.Status.RUNNING)

    assert cancel(granted, other).status_code == 202
    assert cancel(room.trio.viewer, theirs).status_code == 202
    other.refresh_from_db()
    assert other.cancel_requested is True
