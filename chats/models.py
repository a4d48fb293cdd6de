import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from orgs.models import dns_label


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="conversations")
    cluster = models.ForeignKey(
        "orgs.ClusterConnection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    namespace = models.CharField(max_length=63, blank=True, validators=[dns_label])
    # PROTECT: a person with conversations is deactivated, not deleted, so runs and approvals keep their actors.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    archived = models.BooleanField(default=False)
    # Highest event seq handed out; events take the next one under this row's lock.
    last_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Deleting hides the conversation and drops its event log; its runs, approvals and tool-call ledger stay.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        permissions = [("ask_conversation", "Can post messages in the conversation")]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.id}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = models.TextField()
    # The run this message started (user) or answered (assistant); an id, so chats/ never imports workflows/.
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class RunEvent(models.Model):
    """The persisted event log a conversation's WebSocket replays from (DESIGN.md "WebSocket")."""

    id = models.BigAutoField(primary_key=True)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    seq = models.BigIntegerField()
    type = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    ts = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["conversation", "seq"], name="uniq_event_seq")]
        # The insights' time to first token: one index entry per run read, not all of its deltas.
        indexes = [
            models.Index(fields=["run_id", "ts"], condition=models.Q(type="message.delta"), name="runevent_first_delta")
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.type}"
