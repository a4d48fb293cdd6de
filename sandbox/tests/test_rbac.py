"""The sandbox authenticates, impersonates and authorises as a Kubernetes API server does, seen through kubectl."""

import httpx
import pytest

from sandbox.tests.manifests import as_input, binding, deployment, role, rule

APPS = ("apps",)


@pytest.fixture
def shop(sandbox_cluster, k8s_namespace):
    """A namespace with deployments `web` and `api` running, and a clean-up of the cluster-scoped RBAC made in it."""
    ns = k8s_namespace
    sandbox_cluster.kubectl(
        "apply", "-f", "-", input=as_input(deployment(ns, "web", replicas=1), deployment(ns, "api"))
    )
    sandbox_cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s")
    yield ns
    for kind in ("clusterrolebindings", "clusterroles"):
        names = sandbox_cluster.kubectl("get", kind, "-o", "name").stdout.split()
        ours = [n for n in names if n.endswith(f"-{ns}")]
        if ours:
            sandbox_cluster.kubectl("delete", *ours)


def grant(sb, *objects: dict) -> None:
    sb.kubectl("apply", "-f", "-", input=as_input(*objects))


def forbidden(result) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr.strip().splitlines()[-1]


def test_a_person_may_do_what_their_role_allows_and_gets_kubernetes_forbidden_for_the_rest(sandbox_cluster, shop):
    ns, ada = shop, f"ada@{shop}.example.com"
    reader = role("reader", [rule(["get", "list"], ["pods"]), rule(["get", "list"], ["deployments"], APPS)], ns)
    grant(sandbox_cluster, reader, binding("ada-reads", reader, [("User", ada)], ns))

    pods = sandbox_cluster.kubectl("get", "pods", "-n", ns, "--as", ada)
    patch = sandbox_cluster.kubectl(
        "patch", "deploy", "web", "-n", ns, "--as", ada, "-p", '{"spec":{"replicas":3}}', check=False
    )

    assert "web-" in pods.stdout
    assert forbidden(patch) == (
        f'Error from server (Forbidden): deployments.apps "web" is forbidden: User "{ada}" cannot patch resource '
        f'"deployments" in API group "apps" in the namespace "{ns}"'
    )
    assert sandbox_cluster.get_json("deploy", "web", ns)["spec"]["replicas"] == 1


def test_the_forbidden_answer_is_kubernetes_status_body(sandbox_cluster, shop):
    ns = shop
    denied = httpx.patch(
        f"{sandbox_cluster.url}/apis/apps/v1/namespaces/{ns}/deployments/web",
        content=b'{"spec":{"replicas":3}}',
        headers={"Content-Type": "application/merge-patch+json", "Impersonate-User": "eve@example.com"},
    )

    assert denied.status_code == 403
    assert denied.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "web" is forbidden: User "eve@example.com" cannot patch resource "deployments" '
        f'in API group "apps" in the namespace "{ns}"',
        "reason": "Forbidden",
        "details": {"name": "web", "group": "apps", "kind": "deployments"},
        "code": 403,
    }


def test_only_an_identity_allowed_to_impersonate_may_act_as_someone_else(sandbox_cluster, shop):
    ns, ada, bot = shop, f"ada@{shop}.example.com", f"bot-{shop}"
    token = sandbox_cluster.add_user(bot, ["bots"])
    reader = role("reader", [rule(["list"], ["pods"])], ns)
    grant(sandbox_cluster, reader, binding("ada-reads", reader, [("User", ada), ("Group", "readers")], ns))

    # Its own request first: kubectl's discovery, refused too without impersonation rights, prints only "unknown".
    as_self = sandbox_cluster.kubectl_as(token, "get", "pods", "-n", ns, check=False)
    refused = sandbox_cluster.kubectl_as(token, "get", "pods", "-n", ns, "--as", ada, check=False)
    impersonator = role(f"impersonate-ada-{ns}", [rule(["impersonate"], ["users"], names=(ada,))])
    grant(sandbox_cluster, impersonator, binding(f"bot-impersonates-{ns}", impersonator, [("User", bot)]))
    as_ada = sandbox_cluster.kubectl_as(token, "get", "pods", "-n", ns, "--as", ada)
    as_eve = sandbox_cluster.kubectl_as(token, "get", "pods", "-n", ns, "--as", "eve", check=False)
    with_group = sandbox_cluster.kubectl_as(token, "get", "pods", "-n", ns, "--as", ada, "--as-group", "x", check=False)

    cannot = (
        'Error from server (Forbidden): {} is forbidden: User "{}" cannot impersonate resource "{}" in API group ""'
    )
    assert forbidden(refused) == cannot.format(f'users "{ada}"', bot, "users") + " at the cluster scope"
    assert "web-" in as_ada.stdout
    assert forbidden(as_eve) == cannot.format('users "eve"', bot, "users") + " at the cluster scope"
    assert forbidden(with_group) == cannot.format('groups "x"', bot, "groups") + " at the cluster scope"
    assert forbidden(as_self).startswith(f'Error from server (Forbidden): pods is forbidden: User "{bot}" cannot list')


def test_only_the_admin_mints_identities(sandbox_cluster):
    users = f"{sandbox_cluster.url}/sandbox/users"
    token = sandbox_cluster.add_user("mallory")

    anonymous = httpx.post(users, json={"name": "eve", "groups": ["system:masters"]})
    as_user = httpx.post(users, json={"name": "eve"}, headers={"Authorization": f"Bearer {token}"})

    assert (anonymous.status_code, as_user.status_code) == (401, 401)


def test_a_binding_to_a_missing_role_says_so_in_the_denial(sandbox_cluster, shop):
    ns, ada = shop, f"ada@{shop}.example.com"
    ghost = role("ghost", [], ns)
    grant(sandbox_cluster, binding("ada-ghost", ghost, [("User", ada)], ns))

    result = sandbox_cluster.kubectl("get", "pods", "-n", ns, "--as", ada, check=False)

    assert forbidden(result).endswith(
        f'cannot list resource "pods" in API group "" in the namespace "{ns}": '
        'RBAC: role.rbac.authorization.k8s.io "ghost" not found'
    )


def test_an_unknown_token_is_unauthorized(sandbox_cluster):
    result = sandbox_cluster.kubectl_as("not-a-token", "get", "pods", check=False)

    assert forbidden(result) == (
        "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
    )


def test_groups_wildcards_and_namespaces_scope_a_rolebinding(sandbox_cluster, shop):
    ns, ada = shop, f"ada@{shop}.example.com"
    other = sandbox_cluster.new_namespace("other")
    viewer = role(f"view-all-{ns}", [rule(["get", "list", "watch"], ["*"], groups=("*",))])
    grant(sandbox_cluster, viewer, binding("devs-view", viewer, [("Group", f"devs-{ns}")], ns))
    as_dev = ("--as", ada, "--as-group", f"devs-{ns}")
    try:
        deployments = sandbox_cluster.kubectl("get", "deployments", "-n", ns, *as_dev)
        services = sandbox_cluster.kubectl("get", "services", "-n", ns, *as_dev)
        elsewhere = sandbox_cluster.kubectl("get", "pods", "-n", other, *as_dev, check=False)
        everywhere = sandbox_cluster.kubectl("get", "pods", "-A", *as_dev, check=False)
        delete = sandbox_cluster.kubectl("delete", "deploy", "api", "-n", ns, *as_dev, check=False)
        without_group = sandbox_cluster.kubectl("get", "deployments", "-n", ns, "--as", ada, check=False)
    finally:
        sandbox_cluster.delete_namespace(other)

    assert "web" in deployments.stdout
    assert services.returncode == 0
    who = f'User "{ada}" cannot'
    assert forbidden(elsewhere).endswith(f'{who} list resource "pods" in API group "" in the namespace "{other}"')
    assert forbidden(everywhere).endswith(f'{who} list resource "pods" in API group "" at the cluster scope')
    assert forbidden(delete).endswith(
        f'{who} delete resource "deployments" in API group "apps" in the namespace "{ns}"'
    )
    assert forbidden(without_group).endswith(
        f'{who} list resource "deployments" in API group "apps" in the namespace "{ns}"'
    )


def test_a_clusterrolebinding_grants_in_every_namespace_and_at_cluster_scope(sandbox_cluster, shop):
    ns, ada = shop, f"ada@{shop}.example.com"
    reader = role(f"pod-node-reader-{ns}", [rule(["list"], ["pods", "nodes"])])
    by_namespace = binding("ada-reads-here", reader, [("User", ada)], ns)
    grant(sandbox_cluster, reader, by_namespace)

    nodes_by_rolebinding = sandbox_cluster.kubectl("get", "nodes", "--as", ada, check=False)
    grant(sandbox_cluster, binding(f"ada-reads-{ns}", reader, [("User", ada)]))
    nodes = sandbox_cluster.kubectl("get", "nodes", "--as", ada)
    all_pods = sandbox_cluster.kubectl("get", "pods", "-A", "--as", ada)

    assert forbidden(nodes_by_rolebinding).endswith(
        f'User "{ada}" cannot list resource "nodes" in API group "" at the cluster scope'
    )
    assert "sandbox-node" in nodes.stdout
    assert ns in all_pods.stdout


def test_subresources_and_resource_names_are_authorised_apart(sandbox_cluster, shop):
    ns, ada = shop, f"ada@{shop}.example.com"
    scaler = role(
        "scaler",
        [
            rule(["get"], ["deployments"], APPS),
            rule(["get", "patch"], ["deployments/scale"], APPS, names=("web",)),
            rule(["get", "list"], ["pods"]),
        ],
        ns,
    )
    grant(sandbox_cluster, scaler, binding("ada-scales", scaler, [("User", ada)], ns))
    pod = sandbox_cluster.kubectl("get", "pods", "-n", ns, "-l", "app=web", "-o", "name").stdout.split()[0]

    scale_web = sandbox_cluster.kubectl("scale", "deploy/web", "-n", ns, "--replicas=2", "--as", ada)
    scale_api = sandbox_cluster.kubectl("scale", "deploy/api", "-n", ns, "--replicas=3", "--as", ada, check=False)
    logs = sandbox_cluster.kubectl("logs", pod, "-n", ns, "--as", ada, check=False)

    assert "scaled" in scale_web.stdout
    assert sandbox_cluster.get_json("deploy", "web", ns)["spec"]["replicas"] == 2
    assert forbidden(scale_api) == (
        f'Error from server (Forbidden): deployments.apps "api" is forbidden: User "{ada}" cannot patch resource '
        f'"deployments/scale" in API group "apps" in the namespace "{ns}"'
    )
    assert forbidden(logs).endswith(
        f'User "{ada}" cannot get resource "pods/log" in API group "" in the namespace "{ns}"'
    )


def test_auth_can_i_tells_the_truth(sandbox_cluster, shop):
    ns, ada = shop, f"ada@{shop}.example.com"
    scaler = role("scaler", [rule(["patch"], ["*/scale"], APPS), rule(["get"], ["pods"])], ns)
    grant(sandbox_cluster, scaler, binding("ada-scales", scaler, [("User", ada)], ns))

    def can_i(*args: str) -> tuple[str, int]:
        result = sandbox_cluster.kubectl("auth", "can-i", *args, "-n", ns, "--as", ada, check=False)
        return result.stdout.strip(), result.returncode

    assert can_i("patch", "deployments", "--subresource=scale") == ("yes", 0)
    assert can_i("patch", "deployments") == ("no", 1)
    assert can_i("get", "pods") == ("yes", 0)
    assert can_i("delete", "pods") == ("no", 1)
    assert sandbox_cluster.kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"
    listing = sandbox_cluster.kubectl("auth", "can-i", "--list", "-n", ns, "--as", ada).stdout
    assert any(line.split()[:1] == ["*.apps/scale"] and "[patch]" in line for line in listing.splitlines())


def test_the_audit_names_the_person_and_who_acted_for_them(sandbox_cluster, shop):
    ns, ada, bot = shop, f"ada@{shop}.example.com", f"bot-{shop}"
    token = sandbox_cluster.add_user(bot)
    impersonator = role(f"impersonator-{ns}", [rule(["impersonate"], ["users", "groups"])])
    grant(sandbox_cluster, impersonator, binding(f"bot-impersonates-{ns}", impersonator, [("User", bot)]))
    start, _ = sandbox_cluster.requests_after(0)

    sandbox_cluster.kubectl_as(
        token, "delete", "deploy", "api", "-n", ns, "--as", ada, "--as-group", "ops", check=False
    )
    _, entries = sandbox_cluster.requests_after(start)

    denied = [e for e in entries if e["resource"] == "deployments" and e["verb"] == "delete"]
    assert [(e["user"], e["groups"], e["impersonated_by"], e["namespace"], e["name"], e["status"]) for e in denied] == [
        (ada, ["ops", "system:authenticated"], bot, ns, "api", 403)
    ]
    assert sandbox_cluster.get_json("deploy", "api", ns)["metadata"]["name"] == "api"


def test_the_default_view_and_edit_roles_read_and_write_all_but_secrets_and_rbac(sandbox_cluster, shop):
    ns, ada, bob = shop, f"ada@{shop}.example.com", f"bob@{shop}.example.com"
    view, edit = ({"kind": "ClusterRole", "metadata": {"name": name}} for name in ("view", "edit"))
    grant(
        sandbox_cluster,
        binding("ada-views", view, [("User", ada)], ns),
        binding("bob-edits", edit, [("User", bob)], ns),
    )
    reader = role("reader", [rule(["get"], ["pods"])], ns)

    pods = sandbox_cluster.kubectl("get", "pods", "-n", ns, "--as", ada)
    secrets = sandbox_cluster.kubectl("get", "secrets", "-n", ns, "--as", ada, check=False)
    bob_secrets = sandbox_cluster.kubectl("get", "secrets", "-n", ns, "--as", bob)
    bob_scales = sandbox_cluster.kubectl("scale", "deploy/web", "-n", ns, "--replicas=2", "--as", bob)
    bob_role = sandbox_cluster.kubectl("apply", "-f", "-", "--as", bob, input=as_input(reader), check=False)

    assert "web-" in pods.stdout
    assert forbidden(secrets) == (
        f'Error from server (Forbidden): secrets is forbidden: User "{ada}" cannot list resource "secrets" in API '
        f'group "" in the namespace "{ns}"'
    )
    assert bob_secrets.returncode == 0
    assert "scaled" in bob_scales.stdout
    assert 'cannot get resource "roles" in API group "rbac.authorization.k8s.io"' in forbidden(bob_role)
