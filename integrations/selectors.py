"""Reads of the integrations. The settings reads are given the user (admins and owners only); the approval reads
serve the organisation's own Slack app and webhook, which see what the organisation's approvers see."""

from __future__ import annotations

from django.conf import settings

from integrations.models import SlackConnection, WebhookConnection
from integrations.slack import ApprovalView
from orgs.models import AuditEvent, Organization, Role, User
from orgs.selectors import membership_require
from workflows.models import Approval


def slack_connection_get(*, user: User, org: Organization) -> SlackConnection | None:
    """The org's Slack connection (admins and owners; 404/403 for others), or None."""
    membership_require(user=user, org=org, role=Role.ADMIN)
    return SlackConnection.objects.filter(org=org).prefetch_related("cluster_channels").first()


def webhook_connection_get(*, user: User, org: Organization) -> WebhookConnection | None:
    """The org's webhook (admins and owners; 404/403 for others), or None."""
    membership_require(user=user, org=org, role=Role.ADMIN)
    return WebhookConnection.objects.filter(org=org).select_related("acts_as").first()


def approval_with_context(approval_id) -> Approval | None:
    return (
        Approval.objects.select_related("run__conversation__cluster", "run__conversation__org", "requested_by")
        .filter(pk=approval_id)
        .first()
    )


def person_name(user: User | None) -> str:
    if user is None:
        return ""
    named = user.full_name and user.full_name != user.email
    return f"{user.full_name} ({user.email})" if named else user.email


def approval_decision_source(approval: Approval) -> str | None:
    """Where the approval was decided (browser, slack, webhook), as its audit event recorded it."""
    data = (
        AuditEvent.objects.filter(
            target_type="workflows.approval",
            target_id=str(approval.pk),
            action__in=("approval.approved", "approval.denied"),
        )
        .values_list("data", flat=True)
        .first()
    )
    return (data or {}).get("source")


def approval_view(approval: Approval) -> ApprovalView:
    """What the organisation's Slack message and webhook say of the approval (see integrations.slack)."""
    conversation = approval.run.conversation
    link = f"{settings.PUBLIC_URL.rstrip('/')}/c/{conversation.id}/" if settings.PUBLIC_URL else ""
    decided = approval.decision in (Approval.Decision.APPROVED, Approval.Decision.DENIED)
    return ApprovalView(
        approval_id=str(approval.id),
        tool=approval.tool,
        args=approval.args,
        preview=approval.preview,
        requested_by=person_name(approval.requested_by),
        cluster=conversation.cluster.name if conversation.cluster else "(no cluster)",
        namespace=str(approval.args.get("namespace") or conversation.namespace or ""),
        expires_at=approval.expires_at,
        decision=approval.decision,
        decided_by=person_name(approval.decided_by) if decided else "",
        reason=approval.reason,
        source=approval_decision_source(approval) if decided else None,
        link=link,
    )
