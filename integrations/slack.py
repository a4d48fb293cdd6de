"""Slack: the Web API client of an organisation's app and the Block Kit message of an approval request.

What a message shows is what the browser's approval card shows (the approval row's tool, arguments and preview,
already redacted by the tool server), passed once more through the log redactor with the app's own secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from slack_sdk import WebClient

from integrations.models import SlackConnection
from skyflo.logs import Redactor

SECTION_MAX = 2900  # a section's text holds 3000 characters
APPROVE, DENY = "skyflo_approve", "skyflo_deny"  # action_ids of the two buttons; their value is the approval id
SOURCE_WORDS = {"browser": "in Skyflo", "slack": "in Slack", "webhook": "through the webhook"}


INTERACTION_TIMEOUT_S = 2  # Slack wants a button press answered within 3 s; users.info is asked inside that


def slack_client(connection: SlackConnection, *, timeout: float | None = None) -> WebClient:
    # No retry handlers of the SDK's own: the task that calls decides, with bounded retries.
    return WebClient(
        token=connection.bot_token,
        base_url=settings.SLACK_API_URL,
        timeout=timeout or settings.INTEGRATIONS_TIMEOUT_S,
        retry_handlers=[],
    )


@dataclass(frozen=True)
class ApprovalView:
    """What a Slack message says about one approval (read from the rows by integrations.selectors)."""

    approval_id: str
    tool: str
    args: dict
    preview: str
    requested_by: str
    cluster: str
    namespace: str
    expires_at: object
    decision: str  # pending, approved, denied, expired
    decided_by: str = ""
    reason: str = ""
    source: str | None = None
    link: str = ""


def mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    text = text if len(text) <= SECTION_MAX - 20 else text[: SECTION_MAX - 40] + "\n[truncated]"
    return "```" + mrkdwn_escape(text.replace("```", "'''")) + "```"


def approval_message(view: ApprovalView, *, redact: Redactor) -> tuple[str, list[dict]]:
    """(fallback text, blocks) of the approval's message: pending with Approve/Deny buttons, or its outcome."""
    expires = int(view.expires_at.timestamp())
    fields = [
        f"*Asked by*\n{mrkdwn_escape(view.requested_by)}",
        f"*Cluster*\n{mrkdwn_escape(view.cluster)}",
        f"*Namespace*\n{mrkdwn_escape(view.namespace or '(default)')}",
        f"*Expires*\n<!date^{expires}^{{date_short_pretty}} {{time}}|{view.expires_at.isoformat()}>",
    ]
    args = redact(json.dumps(view.args, indent=2, sort_keys=True, ensure_ascii=False))
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Approval needed: {view.tool}"[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": text} for text in fields]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Arguments*\n" + _code(args)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Preview*\n" + _code(redact(view.preview or "-"))}},
        _outcome_block(view),
    ]
    if view.link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{view.link}|Open in Skyflo>"}]})
    text = f"{view.requested_by} asks to run {view.tool} on {view.cluster}: {outcome_sentence(view)}"
    return text, blocks


def outcome_sentence(view: ApprovalView) -> str:
    if view.decision == "pending":
        return "waiting for approval."
    if view.decision == "expired":
        return f"Not decided: {view.reason}" if view.reason else "Not decided: it expired."
    verb = "Approved" if view.decision == "approved" else "Denied"
    where = SOURCE_WORDS.get(view.source or "", "")
    sentence = " ".join(part for part in (verb, f"by {view.decided_by}" if view.decided_by else "", where) if part)
    return sentence + (f": {view.reason}" if view.reason else ".")


def _outcome_block(view: ApprovalView) -> dict:
    if view.decision != "pending":
        mark = {"approved": ":white_check_mark:", "denied": ":no_entry:"}.get(view.decision, ":hourglass:")
        text = f"{mark} {mrkdwn_escape(outcome_sentence(view))}"
        return {"type": "section", "block_id": "outcome", "text": {"type": "mrkdwn", "text": text}}
    button = {"type": "button", "value": view.approval_id}
    return {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {**button, "action_id": APPROVE, "style": "primary", "text": {"type": "plain_text", "text": "Approve"}},
            {**button, "action_id": DENY, "style": "danger", "text": {"type": "plain_text", "text": "Deny"}},
        ],
    }
