import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres import PostgresSaver

from chats.services import conversation_delete
from workflows.checkpointer import postgres_conninfo

pytestmark = pytest.mark.django_db


def checkpoints_of(thread_id: str) -> int:
    with PostgresSaver.from_conn_string(postgres_conninfo()) as saver:
        saver.setup()
        return len(list(saver.list({"configurable": {"thread_id": thread_id}})))


def test_deleting_a_conversation_deletes_its_checkpoints(room, django_capture_on_commit_callbacks):
    thread = str(room.conversation.id)
    with PostgresSaver.from_conn_string(postgres_conninfo()) as saver:
        saver.setup()
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        saver.put(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
    assert checkpoints_of(thread) == 1
    with django_capture_on_commit_callbacks(execute=True):
        conversation_delete(user=room.trio.operator, conversation_id=room.conversation.id)
    assert checkpoints_of(thread) == 0
