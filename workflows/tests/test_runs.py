import pytest
from django.utils import timezone

from chats.models import RunEvent
from tests.accounts import bearer_client
from workflows import lifecycle, recovery
from workflows.models import Approval, Run

pytestmark = pytest.mark.django_db


def test_it_shows_the_run_with_its_pending_approvals(room):
    run = room.run(status=Run.Status.AWAITING_APPROVAL, prompt_tokens=10, completion_tokens=5)
    approval = room.approval(run)
    response = bearer_client(room.trio.viewer).get(f"/api/v1/runs/{run.id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "awaiting_approval"
    assert [a["id"] for a in body["pending_approvals"]] == [str(approval.id)]
    assert body["usage"]["prompt_tokens"] == 10
    assert body["usage"]["completion_tokens"] == 5


def test_it_hides_runs_from_outsiders(room, anon_client):
    run = room.run()
    assert anon_client.get(f"/api/v1/runs/{run.id}/").status_code == 401
    assert bearer_client(room.trio.outsider).get(f"/api/v1/runs/{run.id}/").status_code == 404
    assert bearer_client(room.trio.outsider).post(f"/api/v1/runs/{run.id}/cancel/").status_code == 404


def test_it_cancels_a_queued_run_at_once(room):
    run = room.run()
    response = bearer_client(room.trio.operator).post(f"/api/v1/runs/{run.id}/cancel/")
    assert response.status_code == 202
    run.refresh_from_db()
    assert (run.status, run.cancel_requested) == ("cancelled", True)
    assert RunEvent.objects.get(run_id=run.id, type="run.finished").data["status"] == "cancelled"


def test_it_flags_a_running_run_for_its_worker(room):
    run = room.run(status=Run.Status.RUNNING)
    response = bearer_client(room.trio.operator).post(f"/api/v1/runs/{run.id}/cancel/")
    assert response.status_code == 202
    run.refresh_from_db()
    assert (run.status, run.cancel_requested) == ("running", True)


def test_it_cancels_a_waiting_run_and_closes_its_approval(room):
    run = room.run(status=Run.Status.AWAITING_APPROVAL)
    approval = room.approval(run)
    assert bearer_client(room.trio.operator).post(f"/api/v1/runs/{run.id}/cancel/").status_code == 202
    run.refresh_from_db()
    approval.refresh_from_db()
    assert (run.status, approval.decision) == ("cancelled", "expired")


def test_only_the_requester_or_an_operator_cancels(room):
    run = room.run(by=room.trio.viewer)
    other = room.run(status=Run.Status.RUNNING)
    assert bearer_client(room.trio.viewer).post(f"/api/v1/runs/{other.id}/cancel/").status_code == 403
    assert bearer_client(room.trio.viewer).post(f"/api/v1/runs/{run.id}/cancel/").status_code == 202


def test_cancelling_a_finished_run_conflicts(room):
    run = room.run(status=Run.Status.SUCCEEDED)
    assert bearer_client(room.trio.operator).post(f"/api/v1/runs/{run.id}/cancel/").status_code == 409


def test_a_run_is_claimed_once(room):
    run = room.run()
    assert lifecycle.run_claim(run_id=run.id, worker="a") is not None
    assert lifecycle.run_claim(run_id=run.id, worker="b") is None
    run.refresh_from_db()
    assert (run.status, run.worker) == ("running", "a")


def test_it_recovers_runs_whose_worker_stopped(room, settings, django_capture_on_commit_callbacks):
    settings.RUN_HEARTBEAT_TIMEOUT_S = 5
    stale = room.run(status=Run.Status.RUNNING, heartbeat_at=timezone.now() - timezone.timedelta(seconds=30))
    fresh = room.run(status=Run.Status.RUNNING, heartbeat_at=timezone.now())
    with django_capture_on_commit_callbacks() as callbacks:
        assert recovery.runs_recover() == [str(stale.id)]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, stale.attempt, stale.worker) == ("queued", 1, "")
    assert (fresh.status, fresh.attempt) == ("running", 0)
    assert len(callbacks) == 1


def test_it_finishes_a_run_once(room):
    run = room.run(status=Run.Status.RUNNING)
    lifecycle.run_finish(run=run, status="failed", error=("llm_not_configured", "set LLM_BASE_URL"))
    lifecycle.run_finish(run=run, status="succeeded")
    run.refresh_from_db()
    assert (run.status, run.error_code) == ("failed", "llm_not_configured")
    types = list(RunEvent.objects.filter(run_id=run.id).values_list("type", flat=True))
    assert types == ["run.error", "run.finished"]


def test_an_approval_request_is_recorded_once(room):
    run = room.run(status=Run.Status.RUNNING)
    args = {"call_id": "c1", "tool": "k8s_scale", "args": {"replicas": 3}, "preview": "diff"}
    first = lifecycle.run_await_approval(run=run, **args)
    again = lifecycle.run_await_approval(run=run, **args)
    assert first is not None
    assert again.pk == first.pk
    assert Approval.objects.filter(run=run).count() == 1
    assert RunEvent.objects.filter(run_id=run.id, type="approval.requested").count() == 1
    run.refresh_from_db()
    assert run.status == "awaiting_approval"
