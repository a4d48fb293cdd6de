import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        DENIED = "denied", "Denied"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.DENIED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey("chats.Conversation", on_delete=models.CASCADE, related_name="runs")
    message = models.ForeignKey("chats.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # PROTECT, like the approval's requester: a person with runs is deactivated, not deleted (the trail stays).
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    attempt = models.PositiveIntegerField(default=0)
    replans = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The W3C traceparent of the request that created the run: every task that drives it continues that trace.
    traceparent = models.CharField(max_length=55, blank=True, default="")
    # An undo run: its single step is this restoring call {tool, args, title} (agents/undo.py), of `undo_of`.
    preset_call = models.JSONField(null=True, blank=True)
    undo_of = models.ForeignKey("ToolCall", null=True, blank=True, on_delete=models.SET_NULL, related_name="undone_by")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Approval(models.Model):
    class Decision(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="approvals")
    call_id = models.CharField(max_length=100)
    tool = models.CharField(max_length=64)
    args = models.JSONField(default=dict)  # what runs once approved (the approver's edit, if any)
    # The model's arguments when an approver edited them before deciding; None when not edited.
    proposed_args = models.JSONField(null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    preview = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    reason = models.TextField(blank=True)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "call_id"], name="uniq_approval_call")]

    def __str__(self) -> str:
        return f"{self.tool} ({self.decision})"


class ToolCall(models.Model):
    """The ledger: a row per tool call of a run, so a retried or resumed run never repeats a mutating call."""

    class State(models.TextChoices):
        STARTED = "started", "Started"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tool_calls")
    call_id = models.CharField(max_length=100)
    tool = models.CharField(max_length=64)
    args = models.JSONField(default=dict)
    mutating = models.BooleanField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.STARTED)
    result = models.JSONField(null=True, blank=True)
    # Read right before a mutating call ran (redacted by the tool server): the objects it changes, and the
    # restoring call {tool, args, title} or {"none": why not} (agents/undo.py).
    before = models.JSONField(null=True, blank=True)
    undo = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "call_id"], name="uniq_tool_call")]

    def __str__(self) -> str:
        return f"{self.call_id} {self.tool} ({self.state})"
