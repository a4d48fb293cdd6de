"""Audit event ids become random UUIDs (they were sequential: guessable, and telling how busy an install is).

Primary keys cannot be cast from bigint to uuid, so the rows move to a new table: created beside the old one,
copied (each row gets a new id; nothing references audit rows), the old table dropped, the new one renamed.
"""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

COPIED = ("org_id", "org_slug", "actor_id", "actor_email", "action", "target_type", "target_id", "data", "client_ip")
BATCH = 2000


def copy_events(apps, schema_editor):
    old_model, new_model = apps.get_model("orgs", "AuditEvent"), apps.get_model("orgs", "AuditEventUUID")
    batch = []
    for old in old_model.objects.order_by("id").iterator(chunk_size=BATCH):
        fields = {name: getattr(old, name) for name in COPIED}
        batch.append(new_model(id=uuid.uuid4(), created_at=old.created_at, **fields))
        if len(batch) == BATCH:
            new_model.objects.bulk_create(batch)
            batch = []
    new_model.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEventUUID",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("org_slug", models.CharField(blank=True, max_length=63)),
                ("actor_email", models.CharField(blank=True, max_length=254)),
                ("action", models.CharField(db_index=True, max_length=64)),
                ("target_type", models.CharField(blank=True, max_length=64)),
                ("target_id", models.CharField(blank=True, max_length=64)),
                ("data", models.JSONField(blank=True, default=dict)),
                ("client_ip", models.GenericIPAddressField(blank=True, null=True)),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "org",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="orgs.organization",
                    ),
                ),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.RunPython(copy_events, migrations.RunPython.noop),
        migrations.DeleteModel(name="AuditEvent"),
        migrations.RenameModel(old_name="AuditEventUUID", new_name="AuditEvent"),
    ]
