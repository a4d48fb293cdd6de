"""Finding 29: grant ids packed the guardian row's sequential key into a UUID, and audit ids were a sequence:
both guessable, and both told how many rows exist. They are random-looking UUIDs now."""

import uuid

from orgs.tests.matrix import as_role
from tests.accounts import make_cluster, make_team


def test_finding_29_grant_ids_are_not_row_numbers(trio):
    cluster = make_cluster(trio.org)
    admin = as_role(trio, "admin")
    url = f"/api/v1/orgs/{trio.org.slug}/clusters/{cluster.pk}/grants/"
    team = make_team(trio.org, "sre")
    ids = [
        uuid.UUID(admin.post(url, body, format="json").json()["id"])
        for body in (
            {"permission": "use_cluster", "team": str(team.pk)},
            {"permission": "operate_cluster", "team": str(team.pk)},
        )
    ]
    assert all(grant.version == 4 for grant in ids)
    assert all(grant.int >> 64 not in (1, 2) for grant in ids)  # not (kind << 64) | row id
    assert abs(ids[0].int - ids[1].int) > 1 << 64
    # The id stays the same from read to read and still addresses the grant.
    listed = {uuid.UUID(grant["id"]) for grant in admin.get(url).json()["results"]}
    assert listed == set(ids)
    assert admin.delete(f"{url}{ids[0]}/").status_code == 204
    assert {uuid.UUID(grant["id"]) for grant in admin.get(url).json()["results"]} == {ids[1]}


def test_finding_29_audit_ids_are_uuids(trio):
    admin = as_role(trio, "admin")
    make_team(trio.org, "a")
    admin.post(f"/api/v1/orgs/{trio.org.slug}/teams/", {"name": "b"}, format="json")
    admin.post(f"/api/v1/orgs/{trio.org.slug}/teams/", {"name": "c"}, format="json")
    events = admin.get(f"/api/v1/orgs/{trio.org.slug}/audit/").json()["results"]
    assert len(events) >= 2
    assert all(uuid.UUID(event["id"]).version == 4 for event in events)
