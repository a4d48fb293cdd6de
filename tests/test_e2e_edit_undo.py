"""Issue 19, items 3 and 4: an approver edits a pending call before approving it, and an executed change is undone
through a new approval. Driven from outside (HTTP, WebSocket) against the live stack; what reached the cluster is
read from the sandbox (kubectl, its request log, helm)."""

import json

import pytest

from mcp_server.tests.charts import chart_repository
from orgs.models import AuditEvent, Role
from tests.accounts import make_member, make_org
from tests.live import shop_make
from tests.scripted_llm import call, plan, say, verdict

pytestmark = pytest.mark.e2e


def one_change(live_llm, tool: str, args: dict, answer: str) -> None:
    live_llm.set_script(
        [
            plan([(f"Run {tool}", tool)]),
            call(tool, args),
            verdict(True, "done"),
            say(answer, agent="responder"),
        ]
    )


def after_undo(live_llm, answer: str = "Put back as it was.") -> None:
    """An undo run asks the model nothing until it verifies: its one step is the saved restoring call."""
    live_llm.set_script([verdict(True, "restored"), say(answer, agent="responder")])


def patch_args(shop, approval_id: str, args, user):
    with shop.client(user) as client:
        return client.patch(f"/approvals/{approval_id}/", json={"args": args})


def undo(shop, run_id: str, call_id: str, user):
    with shop.client(user) as client:
        return client.post(f"/runs/{run_id}/tool-calls/{call_id}/undo/")


def approved_run(shop, events, requested: dict | None = None) -> tuple[dict, dict]:
    """Approve the pending change (as operator2) and wait for the run's end: (the tool.result, run.finished)."""
    requested = requested or events.until("approval.requested")["data"]
    assert shop.decide(requested["approval_id"], "approve", user=shop.operator2).status_code == 200
    result = events.until("tool.result", lambda f: f["data"]["call_id"] == requested["call_id"])["data"]
    return result, events.until("run.finished")["data"]


def outsider():
    return make_member(make_org(), Role.OWNER)


def test_an_approver_edits_the_call_and_exactly_the_approved_arguments_run(shop, live_llm):
    ns = shop.namespace
    proposed = {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 50}
    one_change(live_llm, "k8s_scale", proposed, "Scaled web to 5 replicas, as the approver set.")
    shop.cluster.allowed_namespaces = [ns]
    shop.cluster.save(update_fields=["allowed_namespaces"])
    with shop.socket() as events:
        run_id = shop.ask("scale web to 50")["run"]["id"]
        requested = events.until("approval.requested")["data"]
        approval_id = requested["approval_id"]
        assert requested["args"]["replicas"] == 50
        assert "replicas: 50" in requested["preview"]
        assert requested["undo"].startswith("Undo will be offered")

        # Who may not edit: a viewer of the conversation (403) and someone of another organisation (404).
        assert patch_args(shop, approval_id, {**proposed, "replicas": 5}, shop.viewer).status_code == 403
        assert patch_args(shop, approval_id, {**proposed, "replicas": 5}, outsider()).status_code == 404
        # Outside the tool's schema, outside the connection's namespaces: a sentence, nothing changed.
        too_many = patch_args(shop, approval_id, {**proposed, "replicas": 5000}, shop.operator2)
        assert too_many.status_code == 400
        assert "k8s_scale's parameters" in too_many.json()["detail"]
        elsewhere = patch_args(shop, approval_id, {**proposed, "namespace": "kube-system"}, shop.operator2)
        assert elsewhere.status_code == 400
        assert "outside this cluster connection's namespaces" in elsewhere.json()["detail"]
        assert "Traceback" not in too_many.text + elsewhere.text
        unchanged = shop.run(run_id)["pending_approvals"][0]
        assert unchanged["args"] == proposed
        assert unchanged["proposed_args"] is None

        edited = patch_args(shop, approval_id, {**proposed, "replicas": 5}, shop.operator2)
        assert edited.status_code == 200, edited.text
        body = edited.json()
        assert body["args"]["replicas"] == 5
        assert body["proposed_args"] == proposed
        assert "replicas: 5" in body["preview"]
        assert "replicas: 50" not in body["preview"]
        updated = events.until("approval.updated")["data"]
        assert updated["args"]["replicas"] == 5
        assert updated["proposed_args"] == proposed
        assert updated["by"] == str(shop.operator2.id)

        with shop.client(shop.operator) as client:  # shown the model's arguments, not the edit: not approved
            stale = client.post(f"/approvals/{approval_id}/decide/", json={"decision": "approve", "args": proposed})
        assert stale.status_code == 409
        assert "edited since you looked" in stale.json()["detail"]
        with shop.client(shop.operator2) as client:
            seen = {**proposed, "replicas": 5}
            decided = client.post(f"/approvals/{approval_id}/decide/", json={"decision": "approve", "args": seen})
        assert decided.status_code == 200, decided.text
        resolved = events.until("approval.resolved")["data"]
        assert resolved["args"]["replicas"] == 5
        assert resolved["proposed_args"] == proposed
        ran = events.until("tool.call", lambda f: f["data"]["tool"] == "k8s_scale")["data"]
        assert ran["args"]["replicas"] == 5
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    changes = [r for r in shop.sandbox.changes(f"/namespaces/{ns}/deployments/web") if r["status"] < 300]
    assert len(changes) == 1  # one scale reached the cluster, and it set 5
    assert shop.replicas_settled() == (5, 5)
    # The model was told: the verifier's and the responder's prompts name the change.
    prompts = {r["messages"][0]["content"].split("\n")[0]: json.dumps(r["messages"]) for r in live_llm.requests()}
    for agent in ("agent: verifier", "agent: responder"):
        assert "the approver changed the arguments before approving" in prompts[agent]
    trail = {e.action: e.data for e in AuditEvent.objects.filter(data__run=run_id)}
    assert trail["approval.edited"]["proposed_args"]["replicas"] == 50
    assert trail["approval.edited"]["args"]["replicas"] == 5
    assert trail["approval.approved"]["args"]["replicas"] == 5
    # Decided: no more edits.
    assert patch_args(shop, approval_id, {**proposed, "replicas": 7}, shop.operator2).status_code == 409


def test_undo_of_a_scale_and_of_a_set_image_goes_through_an_approval(shop, live_llm):
    ns = shop.namespace
    before = shop.sandbox.get_json("deployment", "web", ns)
    one_change(live_llm, "k8s_scale", {"kind": "deployment", "name": "web", "namespace": ns, "replicas": 3}, "3.")
    with shop.socket() as events:
        run_id = shop.ask("scale web to 3")["run"]["id"]
        result, finished = approved_run(shop, events)
    assert finished["status"] == "succeeded"
    assert result["undo"] is True
    assert shop.replicas_settled() == (3, 3)

    # Undo is asked like a message: not by a viewer (may not request changes), not by an outsider.
    assert undo(shop, run_id, result["call_id"], shop.viewer).status_code == 403
    assert undo(shop, run_id, result["call_id"], outsider()).status_code == 404
    after_undo(live_llm)
    with shop.socket() as events:
        posted = undo(shop, run_id, result["call_id"], shop.operator)
        assert posted.status_code == 202, posted.text
        assert undo(shop, run_id, result["call_id"], shop.operator).status_code == 409  # proposed once
        steps = events.until("plan.created")["data"]["steps"]
        assert [s["tool"] for s in steps] == ["k8s_apply"]
        requested = events.until("approval.requested")["data"]
        assert requested["tool"] == "k8s_apply"
        assert "replicas: 1" in requested["preview"]  # the diff back to the saved state
        assert shop.replicas() == (3, 3)  # nothing changed before the approval
        _, finished = approved_run(shop, events, requested)
    assert finished["status"] == "succeeded"
    assert shop.replicas_settled() == (1, 1)

    one_change(
        live_llm,
        "k8s_set_image",
        {"kind": "deployment", "name": "web", "namespace": ns, "container": "web", "image": "nginx:1.28"},
        "Set.",
    )
    with shop.socket() as events:
        run_id = shop.ask("use nginx 1.28 for web")["run"]["id"]
        result, _ = approved_run(shop, events)
    image = lambda: shop.sandbox.get_json("deployment", "web", ns)["spec"]["template"]["spec"]["containers"][0]["image"]  # noqa: E731
    assert image() == "nginx:1.28"
    after_undo(live_llm)
    with shop.socket() as events:
        assert undo(shop, run_id, result["call_id"], shop.operator).status_code == 202
        _, finished = approved_run(shop, events)
    assert finished["status"] == "succeeded"
    assert image() == before["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_undo_of_an_apply_that_created_an_object_deletes_it(shop, live_llm):
    ns = shop.namespace
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "promo"}, "data": {"a": "b"}})
    one_change(live_llm, "k8s_apply", {"manifest": manifest, "namespace": ns}, "Created.")
    with shop.socket() as events:
        run_id = shop.ask("create the promo config map")["run"]["id"]
        result, _ = approved_run(shop, events)
    assert shop.sandbox.get_json("configmap", "promo", ns)["data"] == {"a": "b"}
    after_undo(live_llm)
    with shop.socket() as events:
        assert undo(shop, run_id, result["call_id"], shop.operator).status_code == 202
        requested = events.until("approval.requested")["data"]
        assert (requested["tool"], requested["args"]) == (
            "k8s_delete",
            {"kind": "ConfigMap", "name": "promo", "namespace": ns},
        )
        _, finished = approved_run(shop, events, requested)
    assert finished["status"] == "succeeded"
    assert shop.sandbox.kubectl("get", "configmap", "promo", "-n", ns, check=False).returncode != 0


def test_the_card_says_when_no_undo_is_possible(shop, live_llm):
    doomed = shop.sandbox.new_namespace("doomed")
    one_change(live_llm, "k8s_delete", {"kind": "namespace", "name": doomed}, "Not deleted.")
    with shop.socket() as events:
        shop.ask(f"delete namespace {doomed}")
        requested = events.until("approval.requested")["data"]
        assert requested["undo"] == "No undo: a deleted namespace and everything in it cannot be restored."
        assert shop.decide(requested["approval_id"], "deny", user=shop.operator2).status_code == 200
        events.until("run.finished")


@pytest.fixture(scope="module")
def charts(sandbox_cluster, tmp_path_factory):
    with chart_repository(sandbox_cluster, tmp_path_factory.mktemp("charts")) as listener:
        yield listener


def test_undo_of_a_helm_upgrade_rolls_the_release_back(
    live_db, live_stack, toolserver_factory, sandbox_cluster, charts, live_llm
):
    server = toolserver_factory(env={"MCP_HELM_REPOSITORIES": charts.url})
    shop = shop_make(live_stack, server, sandbox_cluster)
    ns, chart = shop.namespace, f"{charts.url}/greeter-0.1.0.tgz"
    sandbox_cluster.helm("install", "rel", chart, "-n", ns, "--set", "greeting=hi")
    greeting = lambda: sandbox_cluster.get_json("configmap", "rel-config", ns)["data"]["greeting"]  # noqa: E731
    upgrade = {
        "release": "rel",
        "chart": chart,
        "namespace": ns,
        "reuse_values": True,
        "set_values": {"greeting": "hey"},
    }
    one_change(live_llm, "helm_upgrade", upgrade, "Upgraded.")
    with shop.socket() as events:
        run_id = shop.ask("greet with hey")["run"]["id"]
        result, finished = approved_run(shop, events)
    assert finished["status"] == "succeeded", result
    assert greeting() == "hey"
    after_undo(live_llm)
    with shop.socket() as events:
        assert undo(shop, run_id, result["call_id"], shop.operator).status_code == 202
        requested = events.until("approval.requested")["data"]
        assert requested["tool"] == "helm_rollback"
        assert requested["args"] == {"release": "rel", "namespace": ns, "revision": 1}
        assert greeting() == "hey"
        # Four eyes does not bind this org, but the approval still needs someone who may operate the cluster.
        assert shop.decide(requested["approval_id"], "approve", user=shop.viewer).status_code == 403
        assert shop.decide(requested["approval_id"], "approve", user=shop.operator2).status_code == 200
        assert events.until("run.finished")["data"]["status"] == "succeeded"
    assert greeting() == "hi"
