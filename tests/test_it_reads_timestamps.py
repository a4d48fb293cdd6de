"""Timestamps come back from PostgreSQL as aware UTC datetimes, to the microsecond, whatever offset they were
written with; what a Python datetime cannot hold (infinity, BC) is refused with psycopg's DataError as before."""

from datetime import UTC, datetime

import pytest
from django.db import DataError, connection

from chats.models import Conversation
from tests.accounts import make_member, make_org

pytestmark = pytest.mark.django_db


def _select(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def test_it_reads_timestamps_as_aware_utc_datetimes():
    written = datetime(2026, 12, 6, 14, 15, 31, 462170, tzinfo=UTC)
    org = make_org()
    conversation = Conversation.objects.create(org=org, owner=make_member(org), last_activity_at=written)

    assert Conversation.objects.get(pk=conversation.pk).last_activity_at == written
    assert Conversation.objects.get(pk=conversation.pk).last_activity_at.tzinfo is UTC
    assert _select("SELECT '2026-01-01 10:00:00.5+02'::timestamptz") == (datetime(2026, 1, 1, 8, 0, 0, 500000, UTC),)
    assert _select("SELECT '2026-01-01 10:00:00+00'::timestamptz") == (datetime(2026, 1, 1, 10, tzinfo=UTC),)


@pytest.mark.parametrize("value", ["infinity", "0044-03-15 12:00:00+00 BC"])
def test_it_refuses_what_a_python_datetime_cannot_hold_as_before(value):
    with pytest.raises(DataError):
        _select(f"SELECT '{value}'::timestamptz")
