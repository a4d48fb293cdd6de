"""The account and settings pages: who may see them, and that they call the services (rows change)."""

import pytest
from django.test import Client

from orgs.models import Invitation, Membership, Organization, Role, User
from tests.accounts import PASSWORD, make_cluster, make_team

pytestmark = pytest.mark.django_db

SETTINGS_PAGES = ["", "invitations/", "teams/", "clusters/"]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_sends_everyone_to_setup_while_no_account_exists():
    response = Client().get("/login/")
    assert response.status_code == 302
    assert response["Location"] == "/setup/"


def test_it_creates_the_owner_and_the_org_on_setup():
    data = {"org_name": "Acme Ops", "full_name": "Ada", "email": "Ada@Example.com", "password": PASSWORD}
    response = Client().post("/setup/", data)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get()
    assert user.email == "ada@example.com"
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.org.name == "Acme Ops"


def test_it_refuses_setup_once_an_account_exists(trio):
    response = Client().post("/setup/", {"org_name": "X", "full_name": "X", "email": "x@e.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert not User.objects.filter(email="x@e.com").exists()


def test_it_logs_in_with_the_right_password(trio):
    client = Client()
    response = client.post("/login/", {"email": trio.viewer.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_it_refuses_a_wrong_password_and_throttles(trio, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client()
    for _ in range(2):
        response = client.post("/login/", {"email": trio.viewer.email, "password": "wrong password!"})
        assert response.status_code == 401
        assert b"No active account" in response.content
    response = client.post("/login/", {"email": trio.viewer.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_ignores_an_offsite_next(trio):
    response = Client().post(
        "/login/", {"email": trio.viewer.email, "password": PASSWORD, "next": "https://evil.test/"}
    )
    assert response["Location"] == "/"


def test_it_logs_out_on_post_only(trio):
    client = client_for(trio.viewer)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("path", ["/", "/profile/", "/orgs/x/settings/"])
def test_it_sends_anonymous_visitors_to_login(trio, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_it_shows_settings_to_admins_and_owners(trio, page):
    for user in (trio.owner, trio.admin):
        response = client_for(user).get(f"/orgs/{trio.org.slug}/settings/{page}")
        assert response.status_code == 200


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_it_refuses_settings_to_operators_and_viewers(trio, page):
    for user in (trio.operator, trio.viewer):
        assert client_for(user).get(f"/orgs/{trio.org.slug}/settings/{page}").status_code == 403


@pytest.mark.parametrize("page", SETTINGS_PAGES)
def test_it_hides_settings_from_outsiders(trio, page):
    assert client_for(trio.outsider).get(f"/orgs/{trio.org.slug}/settings/{page}").status_code == 404


def test_it_links_settings_only_for_admins(trio):
    assert b"/settings/" in client_for(trio.admin).get("/").content
    assert b"/settings/" not in client_for(trio.operator).get("/").content
    assert b"/settings/" not in client_for(trio.viewer).get("/profile/").content


def test_it_changes_a_role(trio):
    membership = Membership.objects.get(user=trio.viewer, org=trio.org)
    url = f"/orgs/{trio.org.slug}/settings/"
    response = client_for(trio.admin).post(url, {"membership": membership.pk, "role": "operator", "action": "role"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.OPERATOR


def test_it_does_not_let_an_operator_change_a_role(trio):
    membership = Membership.objects.get(user=trio.viewer, org=trio.org)
    url = f"/orgs/{trio.org.slug}/settings/"
    response = client_for(trio.operator).post(url, {"membership": membership.pk, "role": "owner", "action": "role"})
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER


def test_it_shows_the_invitation_link_once_and_it_works(trio):
    url = f"/orgs/{trio.org.slug}/settings/invitations/"
    response = client_for(trio.admin).post(url, {"action": "create", "email": "new@example.com", "role": "operator"})
    assert response.status_code == 200
    link = response.context["created"]["url"]
    assert link.startswith("http://testserver/invitations/")
    assert link.encode() in response.content
    assert link.encode() not in client_for(trio.admin).get(url).content
    token = link.rstrip("/").rsplit("/", 1)[1]
    client = Client()
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200
    assert b"Join" in page.content
    response = client.post(f"/invitations/{token}/", {"action": "signup", "full_name": "New", "password": PASSWORD})
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert Membership.objects.get(user=user, org=trio.org).role == Role.OPERATOR
    assert Invitation.objects.get(email="new@example.com").accepted_by == user
    assert client.get(f"/invitations/{token}/").status_code == 404


def test_it_refuses_an_unknown_invitation():
    response = Client().get("/invitations/not-a-token/")
    assert response.status_code == 404
    assert b"not valid" in response.content


def test_it_creates_a_team_and_adds_a_member(trio):
    url = f"/orgs/{trio.org.slug}/settings/teams/"
    client = client_for(trio.admin)
    assert client.post(url, {"action": "create", "name": "sre"}).status_code == 302
    team = trio.org.teams.get(name="sre")
    membership = Membership.objects.get(user=trio.viewer, org=trio.org)
    client.post(url, {"action": "add", "team": team.pk, "membership": membership.pk})
    assert list(team.members) == [trio.viewer]


def test_it_connects_a_cluster_and_grants_a_team(trio):
    url = f"/orgs/{trio.org.slug}/settings/clusters/"
    client = client_for(trio.admin)
    data = {
        "action": "create",
        "name": "prod",
        "mcp_server_url": "http://127.0.0.1:9/mcp",
        "mcp_server_token": "s3cret",
        "default_namespace": "shop",
        "allowed_namespaces": "shop, web",
    }
    assert client.post(url, data).status_code == 302
    cluster = trio.org.clusters.get(name="prod")
    assert cluster.allowed_namespaces == ["shop", "web"]
    assert cluster.mcp_server_token == "s3cret"
    team = make_team(trio.org, "ops", members=(trio.operator,))
    client.post(
        url, {"action": "grant", "cluster": cluster.pk, "holder": f"team:{team.pk}", "permission": "operate_cluster"}
    )
    assert trio.operator.has_perm("orgs.operate_cluster", cluster)
    assert b"s3cret" not in client.get(url).content


def test_it_reports_an_unreachable_tool_server(trio):
    cluster = make_cluster(trio.org, url="http://127.0.0.1:9/mcp")
    url = f"/orgs/{trio.org.slug}/settings/clusters/{cluster.pk}/test/"
    response = client_for(trio.admin).post(url)
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert client_for(trio.operator).post(url).status_code == 403
    assert client_for(trio.outsider).post(url).status_code == 404


def test_it_updates_the_profile(trio):
    response = client_for(trio.viewer).post("/profile/", {"full_name": "Vera Viewer"})
    assert response.status_code == 302
    trio.viewer.refresh_from_db()
    assert trio.viewer.full_name == "Vera Viewer"
    assert Organization.objects.filter(memberships__user=trio.viewer).count() == 1
