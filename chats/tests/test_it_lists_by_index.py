"""The conversation list reads a person's conversations by index, not every conversation of the install:
`owner = me OR id IN (shared)` left PostgreSQL no index to use, so each list read (and filtered out) everyone's
conversations and its cost grew with the install. Counted in rows PostgreSQL read, with sequential scans priced
out so that a small test table does not make a scan the cheaper plan anyway."""

import json

import pytest
from django.db import connection
from guardian.shortcuts import assign_perm

from chats.api import ConversationOutput
from chats.models import Conversation
from chats.selectors import VIEW_PERM, conversation_list
from tests.accounts import make_member, make_org, make_team

pytestmark = pytest.mark.django_db

OTHERS = 100


def _conversation_rows_read(queryset) -> int:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # inside the test's transaction
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def rows(node: dict) -> int:
        own = 0
        if node.get("Relation Name") == "chats_conversation":
            loops = node.get("Actual Loops", 1)
            own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
        return own + sum(rows(child) for child in node.get("Plans", []))

    return rows(plan[0]["Plan"])


def test_it_reads_only_the_conversations_a_person_may_see():
    org, elsewhere = make_org(), make_org()
    me, colleague, stranger = make_member(org), make_member(org), make_member(elsewhere)
    mine = Conversation.objects.create(org=org, owner=me, title="mine")
    shared = Conversation.objects.create(org=org, owner=colleague, title="shared with my team")
    assign_perm(VIEW_PERM, make_team(org, "ops", members=(me,)).group, shared)
    Conversation.objects.bulk_create(
        [Conversation(org=org, owner=colleague, title=f"not shared {i}") for i in range(OTHERS // 2)]
        + [Conversation(org=elsewhere, owner=stranger, title=f"another org {i}") for i in range(OTHERS // 2)]
    )

    listed = conversation_list(user=me).only(*ConversationOutput.LIST_COLUMNS)

    assert {c.pk for c in listed} == {mine.pk, shared.pk}
    assert _conversation_rows_read(listed) <= 10  # the old query read all 102
