"""GIN indexes for `?q=` full-text search on PostgreSQL (the expressions match chats.selectors._search_ids).

Not declared on the models: they exist only on PostgreSQL; SQLite (embedded mode) searches with icontains.
"""

from django.db import migrations

INDEXES = {
    "chats_message_content_fts": ("chats_message", "content"),
    "chats_conversation_title_fts": ("chats_conversation", "title"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (to_tsvector('english'::regconfig, COALESCE({column}, '')))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("chats", "0002_initial")]

    operations = [migrations.RunPython(create, drop)]
