"""Signals of chats: `conversation_deleted` (sent by chats) and the access-change hooks that tell open
WebSockets to re-check whether their user may still see the conversation.

`conversation_deleted` is sent after commit with `conversation_id` (a UUID); the workflow engineer deletes
the LangGraph checkpoint thread in a receiver.
"""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import Signal, receiver
from guardian.models import GroupObjectPermission, UserObjectPermission

from chats.publisher import group_send_sync, user_group
from orgs.models import Membership
from orgs.signals import user_password_changed

logger = logging.getLogger(__name__)

conversation_deleted = Signal()  # kwargs: conversation_id

ACCESS_RECHECK = {"type": "access.recheck"}


def access_recheck_notify(*, user_ids) -> None:
    """After commit, ask every open socket of these users to re-check its access."""
    user_ids = {str(pk) for pk in user_ids if pk is not None}
    if user_ids:
        transaction.on_commit(lambda: _notify(user_ids))


def _notify(user_ids) -> None:
    for user_id in user_ids:
        try:
            group_send_sync(user_group(user_id), ACCESS_RECHECK)
        except Exception:  # the consumers' periodic re-check still closes the socket
            logger.exception("could not notify user %s of an access change", user_id)


@receiver(m2m_changed, sender=Group.user_set.through)
def _team_members_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_remove", "pre_clear"):
        return
    if isinstance(instance, Group):
        users = pk_set if action == "post_remove" else list(instance.user_set.values_list("pk", flat=True))
        access_recheck_notify(user_ids=users)
    else:
        access_recheck_notify(user_ids=[instance.pk])


@receiver(post_delete, sender=Membership)
def _membership_deleted(sender, instance, **kwargs):
    access_recheck_notify(user_ids=[instance.user_id])


@receiver(post_save, sender=get_user_model())
def _user_saved(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        access_recheck_notify(user_ids=[instance.pk])


@receiver(post_delete, sender=get_user_model())
def _user_deleted(sender, instance, **kwargs):
    access_recheck_notify(user_ids=[instance.pk])


@receiver(post_delete, sender=UserObjectPermission)
def _user_permission_deleted(sender, instance, **kwargs):
    access_recheck_notify(user_ids=[instance.user_id])


@receiver(pre_delete, sender=GroupObjectPermission)
def _group_permission_deleted(sender, instance, **kwargs):
    access_recheck_notify(user_ids=instance.group.user_set.values_list("pk", flat=True))


@receiver(user_password_changed, dispatch_uid="chats.password_changed")
def _password_changed(sender, user, **kwargs):
    access_recheck_notify(user_ids=[user.pk])
