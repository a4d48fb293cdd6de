import pytest

from workflows.models import Run, ToolCall
from workflows.run_context import ledger_finish, ledger_get, ledger_start

pytestmark = pytest.mark.django_db


def test_a_finished_call_is_answered_from_the_ledger(room):
    run = room.run(status=Run.Status.RUNNING)
    assert ledger_get(run_id=run.id, call_id="c1") is None
    ledger_start(run_id=run.id, call_id="c1", tool="k8s_scale", args={"replicas": 3}, mutating=True)
    result = {"ok": True, "output": "deployment.apps/web scaled", "truncated": False, "command": "kubectl scale"}
    ledger_finish(run_id=run.id, call_id="c1", ok=True, result=result)
    assert ledger_get(run_id=run.id, call_id="c1") == result
    assert ToolCall.objects.get(run=run, call_id="c1").state == "succeeded"


def test_a_call_cut_off_by_a_crash_is_unknown_and_never_repeated(room):
    run = room.run(status=Run.Status.RUNNING)
    ledger_start(run_id=run.id, call_id="c1", tool="k8s_scale", args={"replicas": 3}, mutating=True)
    answer = ledger_get(run_id=run.id, call_id="c1")
    assert answer["unknown"] is True
    assert answer["ok"] is False
    assert "NOT run again" in answer["output"]
    ledger_start(run_id=run.id, call_id="c1", tool="k8s_scale", args={"replicas": 3}, mutating=True)
    assert ToolCall.objects.filter(run=run, call_id="c1").count() == 1
