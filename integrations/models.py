"""Where an organisation's approval requests go besides the browser: a Slack app and a signed webhook.

Secrets (bot token, signing secret, webhook secret) are stored encrypted with orgs.crypto, like the cluster
tokens and the model API key; the properties decrypt them for the code that sends or verifies, never for output.
"""

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from orgs.crypto import secret_decrypt, secret_encrypt

# A channel ID (C0123ABC) or a name (#ops): what chat.postMessage takes.
slack_channel = RegexValidator(r"^#?[A-Za-z0-9._-]{1,80}$", "A Slack channel ID (C0123ABC) or name (#ops).")


class SlackConnection(models.Model):
    """The organisation's Slack app: where its approval requests are posted and whose buttons decide them."""

    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # in the interactivity URL
    org = models.OneToOneField(
        "orgs.Organization", on_delete=models.CASCADE, primary_key=True, related_name="slack_connection"
    )
    bot_token_encrypted = models.TextField(editable=False)
    signing_secret_encrypted = models.TextField(editable=False)
    channel = models.CharField(max_length=81, validators=[slack_channel])
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.org.slug}: Slack {self.channel}"

    @property
    def bot_token(self) -> str:
        return secret_decrypt(self.bot_token_encrypted)

    @bot_token.setter
    def bot_token(self, value: str) -> None:
        self.bot_token_encrypted = secret_encrypt(value)

    @property
    def signing_secret(self) -> str:
        return secret_decrypt(self.signing_secret_encrypted)

    @signing_secret.setter
    def signing_secret(self, value: str) -> None:
        self.signing_secret_encrypted = secret_encrypt(value)

    def channel_for(self, cluster_id) -> str:
        """The cluster's own channel if it has one, else the organisation's."""
        own = self.cluster_channels.filter(cluster_id=cluster_id).values_list("channel", flat=True).first()
        return own or self.channel


class SlackClusterChannel(models.Model):
    """A cluster whose approval requests go to a channel of its own."""

    connection = models.ForeignKey(SlackConnection, on_delete=models.CASCADE, related_name="cluster_channels")
    cluster = models.OneToOneField("orgs.ClusterConnection", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=81, validators=[slack_channel])

    def __str__(self) -> str:
        return f"{self.cluster_id} -> {self.channel}"


class SlackMessage(models.Model):
    """The Slack message of an approval request (channel + ts, what chat.update needs) and the state it shows.
    Created (ts empty) just before the post, as the claim that keeps a redelivered task from posting twice."""

    approval = models.OneToOneField("workflows.Approval", on_delete=models.CASCADE, primary_key=True, related_name="+")
    channel = models.CharField(max_length=81)
    ts = models.CharField(max_length=40, blank=True)
    shown = models.CharField(max_length=10, default="pending")  # the approval's decision the message shows
    posted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.channel}/{self.ts} ({self.shown})"


class SlackRequestSeen(models.Model):
    """Signatures of interactivity requests already taken: a replay inside the 5-minute window is refused."""

    signature = models.CharField(max_length=100, primary_key=True)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.signature


class WebhookConnection(models.Model):
    """The organisation's generic webhook: each approval request is POSTed to `url`, signed with `secret`.

    Decisions come back through POST /api/v1/approvals/{id}/decide/ with the approval token the request carried.
    They are recorded under `acts_as`, the admin who configured the webhook (see integrations/tokens.py).
    """

    org = models.OneToOneField(
        "orgs.Organization", on_delete=models.CASCADE, primary_key=True, related_name="webhook_connection"
    )
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField(editable=False)
    acts_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.org.slug}: webhook"

    @property
    def secret(self) -> str:
        return secret_decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secret_encrypt(value)
