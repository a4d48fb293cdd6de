"""What the approval card says about undo before approving, and the saved object as it would be applied back."""

import yaml

from agents.undo import cleaned, no_undo_reason, undo_note

DEPLOYMENT = {"kind": "deployment", "name": "web", "namespace": "shop"}


def test_the_card_says_which_changes_can_be_undone():
    assert undo_note("k8s_scale", {**DEPLOYMENT, "replicas": 5}).startswith("Undo will be offered")
    assert no_undo_reason("helm_upgrade", {"release": "rel", "chart": "c"}) is None
    assert no_undo_reason("k8s_cordon", {"node": "n1"}) is None
    created = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
    assert no_undo_reason("k8s_apply", {"manifest": created}) is None


def test_the_card_says_where_no_undo_is_possible():
    assert undo_note("k8s_delete", {"kind": "namespace", "name": "shop"}) == (
        "No undo: a deleted namespace and everything in it cannot be restored."
    )
    assert "Secret's data" in undo_note("k8s_patch", {"kind": "secret", "name": "db", "patch": "{}"})
    secret = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}})
    assert "Secret's data" in undo_note("k8s_apply", {"manifest": secret})
    assert "one single object" in undo_note("k8s_delete", {"kind": "pod", "selector": "app=web"})
    two = "kind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: b}\n"
    assert "one single object" in undo_note("k8s_apply", {"manifest": two})
    assert undo_note("k8s_drain", {"node": "n1"}).startswith("No undo: Skyflo cannot tell what k8s_drain changes")


def test_the_saved_object_is_applied_back_without_server_fields():
    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "u",
            "resourceVersion": "7",
            "generation": 3,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{}],
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "shop"},
        },
        "spec": {"replicas": 1},
        "status": {"readyReplicas": 1},
    }
    assert cleaned(live) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}, "annotations": {"team": "shop"}},
        "spec": {"replicas": 1},
    }
