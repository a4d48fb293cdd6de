"""The audit trail every service appends to. Imports nothing else of this package, so any module may use it."""

from orgs.models import AuditEvent, Organization, User


def audit_record(
    *,
    actor: User | None,
    org: Organization | None,
    action: str,
    target=None,
    data: dict | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit event. `action` is "<domain>.<event>"; `target` any model instance (type and id kept)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        org=org,
        org_slug=org.slug if org else "",
        actor=actor,
        actor_email=actor.email if actor else "",
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
        client_ip=ip or None,
    )
