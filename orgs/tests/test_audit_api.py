"""GET /orgs/{slug}/audit/: admins read their organisation's audit log, newest first."""

from orgs import services
from orgs.models import Role
from orgs.tests.matrix import as_role, assert_refused


def test_it_shows_the_audit_log_to_admins(trio):
    services.team_create(actor=trio.admin, org=trio.org, name="payments", ip="10.0.0.5")
    services.team_create(actor=trio.outsider, org=trio.outsider.memberships.get().org, name="elsewhere")
    url = f"/api/v1/orgs/{trio.org.slug}/audit/"
    assert_refused(trio, "get", url, min_role=Role.ADMIN)
    results = as_role(trio, "admin").get(url).json()["results"]
    assert [(e["action"], e["actor_email"], e["client_ip"]) for e in results] == [
        ("team.created", trio.admin.email, "10.0.0.5")
    ]
