"""Reads for runs and approvals, always given the asking user: what you may not see is 404."""

from __future__ import annotations

from django.http import Http404

from orgs.models import User
from workflows.models import Approval, Run, ToolCall


def run_get_for_view(*, user: User, run_id) -> Run:
    """The run if the user may see its conversation, else Http404."""
    from chats.selectors import conversation_get_for_view

    run = Run.objects.select_related("conversation__cluster", "conversation__org").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    conversation_get_for_view(user=user, conversation_id=run.conversation_id)
    return run


def approval_get_for_view(*, user: User, approval_id) -> Approval:
    """The approval if the user may see its run's conversation, else Http404."""
    from chats.selectors import conversation_get_for_view

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


def run_tool_calls(*, run: Run) -> list[ToolCall]:
    return list(run.tool_calls.order_by("started_at", "id"))
