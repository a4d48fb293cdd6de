"""Receivers: when a conversation is deleted, its LangGraph checkpoint thread goes too."""

import logging

from django.dispatch import receiver

from chats.signals import conversation_deleted
from workflows.checkpointer import checkpoint_thread_delete

logger = logging.getLogger(__name__)


@receiver(conversation_deleted, dispatch_uid="workflows.checkpoint_thread_delete")
def _checkpoint_thread_delete(sender, conversation_id, **kwargs) -> None:
    try:
        checkpoint_thread_delete(str(conversation_id))
    except Exception:
        # The conversation is gone either way; orphaned checkpoints hold no access and are logged for cleanup.
        logger.exception("could not delete the checkpoints of conversation %s", conversation_id)
