"""The organisation's model connection: set, replace, or remove it (back to the environment's model)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from orgs.models import ModelConnection, Organization, Role, User
from orgs.services._access import _require
from orgs.services.audit import audit_record


@transaction.atomic
def model_connection_set(
    *,
    actor: User | None,
    org: Organization,
    base_url: str,
    model: str,
    api_key: str | None = None,
    api_version: str = "",
    ip: str | None = None,
) -> ModelConnection:
    """Point the org's runs at `base_url`/`model` (admin+). `api_key` None keeps the stored key, but only for the
    same address: a stored key is never sent to a new host without being given again."""
    _require(actor, org, Role.ADMIN)
    connection = ModelConnection.objects.select_for_update().filter(org=org).first() or ModelConnection(org=org)
    moved = connection.base_url != base_url
    if api_key is None and moved and connection.api_key_encrypted:
        raise ValidationError({"api_key": "Give the API key again: the address changed."})
    values = {"base_url": base_url, "model": model, "api_version": api_version or ""}
    changed = [field for field, value in values.items() if getattr(connection, field) != value]
    for field, value in values.items():
        setattr(connection, field, value)
    if api_key is not None:
        connection.api_key = api_key
        changed.append("api_key")
    connection.full_clean()
    connection.save()
    data = {"changed": sorted(changed), "model": model}
    audit_record(actor=actor, org=org, action="model_connection.updated", target=connection, data=data, ip=ip)
    return connection


@transaction.atomic
def model_connection_delete(*, actor: User | None, org: Organization, ip: str | None = None) -> None:
    """Forget the org's model connection (admin+): its runs use the environment's model again."""
    _require(actor, org, Role.ADMIN)
    deleted, _ = ModelConnection.objects.filter(org=org).delete()
    if deleted:
        audit_record(actor=actor, org=org, action="model_connection.deleted", ip=ip)
