"""Writers of the integrations: the connections (admins and owners), the Slack messages of approvals, the
decisions made from Slack. Deciding goes through workflows.services.approval_decide, the REST endpoint's own
service, so Slack and the webhook obey the same rules (operate permission, four eyes, expiry, already decided)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from slack_sdk.errors import SlackClientError

from integrations.models import SlackClusterChannel, SlackConnection, SlackMessage, SlackRequestSeen, WebhookConnection
from integrations.selectors import approval_view, approval_with_context
from integrations.slack import APPROVE, DENY, INTERACTION_TIMEOUT_S, approval_message, slack_client
from integrations.tokens import approval_token_issue
from integrations.webhook import approval_payload, outcome_payload, webhook_deliver, webhook_url_check
from orgs.models import ClusterConnection, Organization, Role, User
from orgs.selectors import membership_require
from orgs.services.audit import audit_record
from skyflo.api_errors import Conflict
from skyflo.logs import Redactor
from workflows.models import Approval
from workflows.selectors import approval_get_for_view
from workflows.services import approval_decide

logger = logging.getLogger(__name__)

REPLAY_WINDOW = timedelta(minutes=10)  # Slack's timestamps are good for 5 minutes either way


# --- connections (admins and owners) ---------------------------------------------------------------------------


@transaction.atomic
def slack_connection_set(
    *,
    actor: User,
    org: Organization,
    channel: str,
    bot_token: str | None = None,
    signing_secret: str | None = None,
    cluster_channels: list[dict] | None = None,
    ip: str | None = None,
) -> SlackConnection:
    """Connect (or change) the org's Slack app. A new connection needs both secrets; None keeps a stored one.
    `cluster_channels` ([{cluster, channel}]) replaces the per-cluster channels when given."""
    membership_require(user=actor, org=org, role=Role.ADMIN)
    connection = SlackConnection.objects.select_for_update().filter(org=org).first() or SlackConnection(org=org)
    missing = {
        name: "Give the Slack app's " + label + "."
        for name, label, value, stored in (
            ("bot_token", "bot token (xoxb-…)", bot_token, connection.bot_token_encrypted),
            ("signing_secret", "signing secret", signing_secret, connection.signing_secret_encrypted),
        )
        if not value and not stored
    }
    if missing:
        raise ValidationError(missing)
    changed = ["channel"] if connection.channel != channel else []
    connection.channel = channel
    for name, value in (("bot_token", bot_token), ("signing_secret", signing_secret)):
        if value:
            setattr(connection, name, value)
            changed.append(name)
    connection.full_clean()
    connection.save()
    if cluster_channels is not None:
        _cluster_channels_set(connection, cluster_channels)
        changed.append("cluster_channels")
    audit_record(
        actor=actor, org=org, action="slack_connection.updated", target=connection, data={"changed": changed}, ip=ip
    )
    return connection


def _cluster_channels_set(connection: SlackConnection, entries: list[dict]) -> None:
    clusters = {str(c.pk): c for c in ClusterConnection.objects.filter(org=connection.org)}
    unknown = [str(entry["cluster"]) for entry in entries if str(entry["cluster"]) not in clusters]
    if unknown:
        raise ValidationError({"cluster_channels": f"No such cluster in this organisation: {', '.join(unknown)}."})
    connection.cluster_channels.all().delete()
    for entry in entries:
        row = SlackClusterChannel(
            connection=connection, cluster=clusters[str(entry["cluster"])], channel=entry["channel"]
        )
        row.full_clean(exclude=["connection", "cluster"])
        row.save()


@transaction.atomic
def slack_connection_delete(*, actor: User, org: Organization, ip: str | None = None) -> None:
    membership_require(user=actor, org=org, role=Role.ADMIN)
    deleted, _ = SlackConnection.objects.filter(org=org).delete()
    if deleted:
        audit_record(actor=actor, org=org, action="slack_connection.deleted", ip=ip)


@transaction.atomic
def webhook_connection_set(
    *, actor: User, org: Organization, url: str, secret: str | None = None, ip: str | None = None
) -> WebhookConnection:
    """Send the org's approval requests to `url`, signed with `secret` (None keeps the stored one). Decisions
    that come back are recorded under `actor`, who saved it last (integrations/tokens.py says why)."""
    membership_require(user=actor, org=org, role=Role.ADMIN)
    webhook_url_check(url)
    connection = WebhookConnection.objects.select_for_update().filter(org=org).first() or WebhookConnection(org=org)
    if not secret and not connection.secret_encrypted:
        raise ValidationError({"secret": "Give the secret the webhook's receiver verifies signatures with."})
    if secret and len(secret) < 16:
        raise ValidationError({"secret": "Use a secret of at least 16 characters."})
    changed = [name for name, value in (("url", url), ("acts_as", actor)) if getattr(connection, name, None) != value]
    connection.url, connection.acts_as = url, actor
    if secret:
        connection.secret = secret
        changed.append("secret")
    connection.full_clean()
    connection.save()
    data = {"changed": sorted(changed), "acts_as": actor.email}
    audit_record(actor=actor, org=org, action="webhook_connection.updated", target=connection, data=data, ip=ip)
    return connection


@transaction.atomic
def webhook_connection_delete(*, actor: User, org: Organization, ip: str | None = None) -> None:
    membership_require(user=actor, org=org, role=Role.ADMIN)
    deleted, _ = WebhookConnection.objects.filter(org=org).delete()
    if deleted:
        audit_record(actor=actor, org=org, action="webhook_connection.deleted", ip=ip)


# --- outbound: post, update, deliver (called by tasks; they raise on a Slack or network failure) ----------------


def _redactor(connection: SlackConnection) -> Redactor:
    return Redactor([connection.bot_token, connection.signing_secret])


def slack_approval_post(*, approval_id) -> None:
    """Post the approval's message to its cluster's channel (once), then bring it up to date if it was decided
    meanwhile (a decision made while the post was in flight found no message to update)."""
    approval = approval_with_context(approval_id)
    connection = approval and SlackConnection.objects.filter(org_id=approval.run.conversation.org_id).first()
    if connection is None:
        return
    channel = connection.channel_for(approval.run.conversation.cluster_id)
    try:  # the row is the claim: a second delivery of this task finds it and posts nothing
        with transaction.atomic():
            claim = SlackMessage.objects.create(approval=approval, channel=channel, ts="")
    except IntegrityError:
        return
    view = approval_view(approval)
    text, blocks = approval_message(view, redact=_redactor(connection))
    try:
        response = slack_client(connection).chat_postMessage(channel=channel, text=text, blocks=blocks)
    except Exception:
        claim.delete()  # not posted: the retry claims again
        raise
    SlackMessage.objects.filter(pk=claim.pk).update(channel=response["channel"], ts=response["ts"], shown=view.decision)
    slack_approval_refresh(approval_id=approval_id)


def slack_approval_refresh(*, approval_id) -> None:
    """chat.update the approval's message when what it shows is no longer the approval's state."""
    approval = approval_with_context(approval_id)
    message = approval and SlackMessage.objects.exclude(ts="").filter(approval=approval).first()
    connection = message and SlackConnection.objects.filter(org_id=approval.run.conversation.org_id).first()
    if connection is None or message.shown == approval.decision:
        return
    text, blocks = approval_message(approval_view(approval), redact=_redactor(connection))
    slack_client(connection).chat_update(channel=message.channel, ts=message.ts, text=text, blocks=blocks)
    SlackMessage.objects.filter(pk=message.pk).update(shown=approval.decision, updated_at=timezone.now())


def slack_approvals_of_run_to_refresh(*, run_id) -> list[str]:
    """Approvals of a finished run whose messages still show them pending (a cancel expires them in bulk)."""
    pending = SlackMessage.objects.filter(approval__run_id=run_id, shown=Approval.Decision.PENDING)
    return [str(pk) for pk in pending.values_list("approval_id", flat=True)]


def slack_ephemeral_send(*, org_id, channel: str, user: str, text: str) -> None:
    connection = SlackConnection.objects.filter(org_id=org_id).first()
    if connection is not None:
        slack_client(connection).chat_postEphemeral(channel=channel, user=user, text=text)


def webhook_approval_deliver(*, approval_id) -> None:
    """POST the approval request with its token, or, once decided, its outcome, to the org's webhook (raises on
    failure)."""
    approval = approval_with_context(approval_id)
    connection = approval and WebhookConnection.objects.filter(org_id=approval.run.conversation.org_id).first()
    if connection is None:
        return
    view = approval_view(approval)
    if approval.decision == Approval.Decision.PENDING:
        payload = approval_payload(view, token=approval_token_issue(connection=connection, approval=approval))
    else:
        payload = outcome_payload(view)
    webhook_deliver(url=connection.url, secret=connection.secret, payload=payload)


# --- inbound: a button pressed in Slack ------------------------------------------------------------------------


def slack_request_admit(*, signature: str) -> bool:
    """Record a verified request's signature; False when it was seen before (a replay)."""
    SlackRequestSeen.objects.filter(seen_at__lt=timezone.now() - REPLAY_WINDOW).delete()
    try:
        with transaction.atomic():
            SlackRequestSeen.objects.create(signature=signature[:100])
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class SlackReply:
    """The sentence the person who pressed the button sees (ephemeral), where they pressed it."""

    channel: str
    user: str
    text: str


@dataclass(frozen=True)
class ButtonPress:
    """What a block_actions payload says: which of our buttons, for which approval, pressed by whom, where."""

    approval_id: uuid.UUID | None
    decision: str
    slack_user: str
    channel: str

    @classmethod
    def from_payload(cls, payload: dict) -> ButtonPress | None:
        action = next((a for a in payload.get("actions") or [] if a.get("action_id") in (APPROVE, DENY)), None)
        slack_user = (payload.get("user") or {}).get("id")
        channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id")
        if payload.get("type") != "block_actions" or action is None or not slack_user or not channel:
            return None
        try:
            approval_id = uuid.UUID(str(action.get("value")))
        except ValueError:
            approval_id = None
        decision = "approve" if action["action_id"] == APPROVE else "deny"
        return cls(approval_id=approval_id, decision=decision, slack_user=slack_user, channel=channel)


def slack_action_decide(*, connection: SlackConnection, payload: dict) -> SlackReply | None:
    """Decide the approval a block_actions payload's button names, as the Skyflo user with the Slack user's
    verified email; the reply says what happened. None for a payload that is not one of our buttons."""
    press = ButtonPress.from_payload(payload)
    if press is None:
        return None
    approval = Approval.objects.filter(pk=press.approval_id, run__conversation__org=connection.org).first()
    if approval is None:
        text = "This approval is not one of your organisation's; nothing was decided."
    else:
        text = _decided_sentence(connection, approval, press)
    return SlackReply(channel=press.channel, user=press.slack_user, text=text)


def _decided_sentence(connection: SlackConnection, approval: Approval, press: ButtonPress) -> str:
    try:
        user, refusal = _skyflo_user(connection, press.slack_user)
    except (SlackClientError, OSError) as exc:
        logger.warning("Slack: users.info failed for a button press (%s); nothing was decided", type(exc).__name__)
        return "Skyflo could not ask Slack who you are; nothing was decided. Try again in a moment."
    if user is None:
        return refusal
    try:
        approval = approval_get_for_view(user=user, approval_id=approval.pk)  # 404 as in the browser
        approval_decide(user=user, approval=approval, decision=press.decision, source="slack")
    except Http404:
        return "You cannot see this conversation in Skyflo, so you cannot decide its approval."
    except PermissionDenied as exc:
        return f"{exc} Nothing was decided."
    except Conflict as exc:
        return str(exc.detail)
    where = approval.run.conversation.cluster.name if approval.run.conversation.cluster else "the cluster"
    if press.decision == "approve":
        return f"You approved {approval.tool} on {where}; the run continues."
    return f"You denied {approval.tool} on {where}; the run will not make this change."


def _skyflo_user(connection: SlackConnection, slack_user: str) -> tuple[User | None, str]:
    """The active Skyflo member of the org whose email is the Slack user's confirmed email, or (None, why not).
    Raises slack_sdk's errors when Slack does not answer."""
    info = slack_client(connection, timeout=INTERACTION_TIMEOUT_S).users_info(user=slack_user)["user"]
    email = ((info.get("profile") or {}).get("email") or "").strip().lower()
    if info.get("deleted") or info.get("is_bot"):
        return None, "Only people decide approvals; nothing was decided."
    if not email:
        return None, (
            "Skyflo cannot read the email of your Slack profile (the app needs the users:read.email scope), "
            "so it cannot tell who you are; nothing was decided."
        )
    if not info.get("is_email_confirmed"):
        return None, "Your Slack email is not confirmed; confirm it in Slack, then decide again."
    user = User.objects.filter(email__iexact=email, is_active=True, memberships__org=connection.org).first()
    if user is None:
        return None, f"No member of {connection.org.name} in Skyflo has your email ({email}); nothing was decided."
    return user, ""
