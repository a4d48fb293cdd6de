"""Approval tokens: what a webhook's receiver sends back to decide one approval.

A token is signed (django.core.signing, HMAC-SHA256 with DJANGO_SECRET_KEY, salted with a fingerprint of the
organisation's webhook secret) and carries the approval id, the user it decides as and its expiry (the approval's
own). It decides that approval only, through the ordinary POST /api/v1/approvals/{id}/decide/ with
`Authorization: Approval <token>`; anywhere else, or for another approval, it is refused. Changing or removing the
webhook (its secret or who configured it) voids every token issued before.

Whose identity: the decision is recorded under `WebhookConnection.acts_as`, the admin who last saved the webhook.
The token names nobody the caller chose; the receiver (Teams, PagerDuty, a bot) authenticates its own people, and
the admin who connected it to Skyflo answers for what it decides, as if they had clicked. The same rules apply
as in the browser: that admin must be allowed to operate the cluster, and under four eyes may not approve their
own request. The audit and the approval.resolved event say the source was the webhook.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils import timezone

from integrations.models import WebhookConnection
from orgs.models import User
from workflows.models import Approval

PREFIX = "sfa1."


class TokenRefused(Exception):
    """The token does not decide this approval; the message is a sentence for the caller."""


@dataclass(frozen=True)
class ApprovalTokenAuth:
    """`request.auth` of a request authenticated by an approval token (the decide view reads decision_source)."""

    approval_id: str
    decision_source: str = "webhook"


def _salt(connection: WebhookConnection) -> str:
    fingerprint = hashlib.sha256(f"{connection.secret}\n{connection.acts_as_id}".encode()).hexdigest()
    return f"skyflo.approval-token.{fingerprint}"


def approval_token_issue(*, connection: WebhookConnection, approval: Approval) -> str:
    payload = {"a": str(approval.pk), "u": str(connection.acts_as_id), "e": int(approval.expires_at.timestamp())}
    return PREFIX + signing.dumps(payload, key=settings.SECRET_KEY, salt=_salt(connection), compress=False)


def approval_token_user(*, token: str, approval_id) -> User:
    """The user a token decides `approval_id` as; TokenRefused when it was not issued for it or is no longer good."""
    approval = Approval.objects.select_related("run__conversation").filter(pk=approval_id).first()
    connection = approval and (
        WebhookConnection.objects.select_related("acts_as").filter(org_id=approval.run.conversation.org_id).first()
    )
    if connection is None or not token.startswith(PREFIX):
        raise TokenRefused("This approval token is not valid.")
    try:
        payload = signing.loads(token[len(PREFIX) :], key=settings.SECRET_KEY, salt=_salt(connection))
    except signing.BadSignature:
        raise TokenRefused("This approval token is not valid.") from None
    if payload.get("a") != str(approval.pk):
        raise TokenRefused("This approval token was issued for another approval.")
    if payload.get("u") != str(connection.acts_as_id) or not connection.acts_as.is_active:
        raise TokenRefused("This approval token is not valid.")
    if payload.get("e", 0) <= timezone.now().timestamp():
        raise TokenRefused("This approval token has expired.")
    return connection.acts_as
