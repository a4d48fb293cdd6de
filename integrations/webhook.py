"""The generic webhook: an approval request POSTed as JSON, signed like Slack signs its own requests.

Headers: `X-Skyflo-Timestamp: <unix seconds>` and `X-Skyflo-Signature: v1=<hex HMAC-SHA256(secret,
"v1:<timestamp>:<body>")>`. A receiver recomputes the signature, compares in constant time and refuses a
timestamp more than 5 minutes away. `approval.requested` carries the decide URL and an approval token
(integrations/tokens.py); `approval.resolved` follows when the approval is decided anywhere or expires.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

from integrations.slack import ApprovalView
from orgs.services.tool_server_address import tool_server_url_check

SIGNATURE_HEADER = "X-Skyflo-Signature"
TIMESTAMP_HEADER = "X-Skyflo-Timestamp"
REFUSED = (
    "This webhook address is on an internal network, which webhooks may not use "
    "(an operator can allow networks with SKYFLO_MCP_ALLOWED_NETWORKS)."
)


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"v1:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def webhook_url_check(url: str, *, resolve_failure_ok: bool = True) -> None:
    """The webhook may reach what a cluster connection may reach (public, or an allowed network): else
    ValidationError({"url": …}). Checked when it is saved and again before every delivery."""
    try:
        tool_server_url_check(url, resolve_failure_ok=resolve_failure_ok)
    except ValidationError as exc:
        message = REFUSED if "internal network" in " ".join(exc.messages) else " ".join(exc.messages)
        raise ValidationError({"url": message}) from None


def approval_payload(view: ApprovalView, *, token: str) -> dict:
    path = f"/api/v1/approvals/{view.approval_id}/decide/"
    base = (settings.PUBLIC_URL or "").rstrip("/")
    return {
        "type": "approval.requested",
        "approval": {
            "id": view.approval_id,
            "tool": view.tool,
            "args": view.args,
            "preview": view.preview,
            "requested_by": view.requested_by,
            "cluster": view.cluster,
            "namespace": view.namespace,
            "expires_at": view.expires_at.isoformat().replace("+00:00", "Z"),
            "link": view.link or None,
        },
        "decide": {
            "method": "POST",
            "url": f"{base}{path}" if base else None,
            "path": path,
            "headers": {"Authorization": f"Approval {token}", "Content-Type": "application/json"},
            "body": {"decision": "approve | deny", "reason": "optional"},
        },
    }


def outcome_payload(view: ApprovalView) -> dict:
    """What the receiver is told when the approval is decided anywhere or expires (to update its own card)."""
    return {
        "type": "approval.resolved",
        "approval": {
            "id": view.approval_id,
            "tool": view.tool,
            "cluster": view.cluster,
            "namespace": view.namespace,
            "decision": view.decision,
            "decided_by": view.decided_by or None,
            "source": view.source,
            "reason": view.reason,
        },
    }


def webhook_deliver(*, url: str, secret: str, payload: dict) -> None:
    """POST the signed payload; raises httpx.HTTPError (or ValidationError for a refused address) on failure."""
    webhook_url_check(url, resolve_failure_ok=False)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=timestamp, body=body),
        "User-Agent": "Skyflo-Webhook/1",
    }
    # No redirects: a redirect could carry the signed body, token included, to an address never checked.
    with httpx.Client(timeout=settings.INTEGRATIONS_TIMEOUT_S, follow_redirects=False) as client:
        client.post(url, content=body, headers=headers).raise_for_status()
