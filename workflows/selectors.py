"""Reads for runs and approvals: what the asking user may not see is 404. `run_usage` reads a run already shown."""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone

from chats.selectors import conversation_get_for_view
from orgs.impersonation import call_signer
from orgs.models import User
from orgs.selectors import cluster_can_request_changes
from workflows.models import Approval, Run


def run_get_for_view(*, user: User, run_id) -> Run:
    """The run if the user may see its conversation, else Http404."""
    run = Run.objects.select_related("conversation__cluster", "conversation__org").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    conversation_get_for_view(user=user, conversation_id=run.conversation_id)
    return run


def approval_get_for_view(*, user: User, approval_id) -> Approval:
    """The approval if the user may see its run's conversation, else Http404."""
    approval = (
        Approval.objects.select_related("run__conversation__cluster", "run__conversation__org")
        .filter(pk=approval_id)
        .first()
    )
    if approval is None:
        raise Http404("No such approval.")
    conversation_get_for_view(user=user, conversation_id=approval.run.conversation_id)
    return approval


def run_approvals_pending(*, run: Run) -> list[Approval]:
    return list(run.approvals.filter(decision=Approval.Decision.PENDING).order_by("created_at"))


def run_approvers(run: Run) -> dict[str, User]:
    """Who approved each approved call of the run, by call id."""
    approved = Approval.objects.filter(run=run, decision=Approval.Decision.APPROVED).select_related("decided_by")
    return {a.call_id: a.decided_by for a in approved}


def run_usage(run: Run) -> dict:
    duration = (run.finished_at or timezone.now()) - (run.started_at or run.created_at)
    return {
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "cost_usd": float(run.cost_usd),
        "duration_ms": int(duration.total_seconds() * 1000),
    }


def run_policy_inputs(run: Run) -> dict:
    """The ToolPolicy's inputs for a run: the asker's rights and the connection's limits, read now."""
    cluster = run.conversation.cluster
    can_change = cluster_can_request_changes(user=run.requested_by, cluster=cluster)
    return {
        "can_request_changes": can_change,
        "cluster_read_only": cluster.read_only,
        "allowed_namespaces": list(cluster.allowed_namespaces or ()),
        "default_namespace": run.conversation.namespace or cluster.default_namespace or None,
        "tool_allow": cluster.tool_allow,
        "tool_deny": cluster.tool_deny,
        "kind": cluster.kind,
    }


def run_identity(run: Run, cluster):
    """Acting as the person (orgs/impersonation.py): the signer of each call's identity assertion, or None."""
    return call_signer(cluster, run.requested_by, lambda: run_approvers(run))
