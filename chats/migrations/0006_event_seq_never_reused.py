"""Event seqs are never handed out twice, even after PostgreSQL crashes (chats/event_log.py commits events
asynchronously; a crash may lose the last ones, and with them the conversation's seq counter).

Two UNLOGGED tables, which PostgreSQL empties exactly when it recovers from a crash (and keeps across a clean
restart, which loses no commit): `chats_seq_incarnation` holds when the current incarnation began ('-infinity'
until the first crash), `chats_seq_live` the conversations whose counter moved on since then. PostgreSQL only.
"""

from django.db import migrations

CREATE = [
    "CREATE UNLOGGED TABLE IF NOT EXISTS chats_seq_incarnation "
    "(id smallint PRIMARY KEY CHECK (id = 1), started_at timestamptz NOT NULL)",
    "INSERT INTO chats_seq_incarnation (id, started_at) VALUES (1, '-infinity') ON CONFLICT (id) DO NOTHING",
    "CREATE UNLOGGED TABLE IF NOT EXISTS chats_seq_live (conversation_id uuid PRIMARY KEY)",
]
DROP = ["DROP TABLE IF EXISTS chats_seq_live", "DROP TABLE IF EXISTS chats_seq_incarnation"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("chats", "0005_runevent_first_delta_index")]

    operations = [migrations.RunPython(create, drop)]
