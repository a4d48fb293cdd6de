"""The hooks into the runtime: nothing in workflows/ calls integrations/. An approval row created (the run
parked at a mutating call), an approval row edited (its arguments changed before a decision: posted again), an
approval row decided or expired, a run finished (a cancel expires its approvals in
bulk): each queues the Slack post or update and the webhook delivery (the request, then its outcome) after the
commit, for organisations that connected Slack or a webhook. A cancel's bulk expiry reaches Slack only.
Only `post_save` of Approval and Run is relied on."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from integrations import tasks
from integrations.models import SlackConnection, SlackMessage, WebhookConnection
from integrations.services import slack_approvals_of_run_to_refresh
from workflows.models import Approval, Run


def _after_commit(task, *args) -> None:
    transaction.on_commit(lambda: tasks.task_dispatch(task, *args), robust=True)


def _org_id(approval: Approval):
    return Run.objects.filter(pk=approval.run_id).values_list("conversation__org_id", flat=True).first()


@receiver(post_save, sender=Approval, dispatch_uid="integrations.approval_saved")
def _approval_saved(sender, instance: Approval, created: bool, update_fields=None, **kwargs) -> None:
    if created:
        org_id = _org_id(instance)
        if SlackConnection.objects.filter(org_id=org_id).exists():
            _after_commit(tasks.slack_approval_post, str(instance.pk))
        if WebhookConnection.objects.filter(org_id=org_id).exists():
            _after_commit(tasks.webhook_approval_deliver, str(instance.pk))
        return
    edited = update_fields is not None and "args" in update_fields and instance.decision == Approval.Decision.PENDING
    if edited:  # an approver changed the arguments: Slack and the webhook show what would now run
        if SlackMessage.objects.filter(approval_id=instance.pk).update(shown="edited"):
            _after_commit(tasks.slack_approval_refresh, str(instance.pk))
        if WebhookConnection.objects.filter(org_id=_org_id(instance)).exists():
            _after_commit(tasks.webhook_approval_deliver, str(instance.pk))
        return
    decided = (update_fields is None or "decision" in update_fields) and instance.decision != Approval.Decision.PENDING
    if not decided:
        return
    if SlackMessage.objects.filter(approval_id=instance.pk).exists():
        _after_commit(tasks.slack_approval_refresh, str(instance.pk))
    if WebhookConnection.objects.filter(org_id=_org_id(instance)).exists():
        _after_commit(tasks.webhook_approval_deliver, str(instance.pk))


@receiver(post_save, sender=Run, dispatch_uid="integrations.run_saved")
def _run_saved(sender, instance: Run, created: bool, **kwargs) -> None:
    if not created and instance.is_finished:
        for approval_id in slack_approvals_of_run_to_refresh(run_id=instance.pk):
            _after_commit(tasks.slack_approval_refresh, approval_id)
