"""Imperative kubectl commands whose typed clients send protobuf bodies (create/run/expose)."""

import base64
import secrets


def test_it_creates_a_namespace_configmap_and_secret(sandbox_cluster):
    namespace = f"imp-{secrets.token_hex(3)}"

    created = [
        sandbox_cluster.kubectl("create", "namespace", namespace).stdout.strip(),
        sandbox_cluster.kubectl(
            "create", "configmap", "cfg", "-n", namespace, "--from-literal=mode=fast"
        ).stdout.strip(),
        sandbox_cluster.kubectl(
            "create", "secret", "generic", "creds", "-n", namespace, "--from-literal=token=s3cr3t"
        ).stdout.strip(),
    ]

    assert created == [f"namespace/{namespace} created", "configmap/cfg created", "secret/creds created"]
    assert sandbox_cluster.get_json("configmap", "cfg", namespace)["data"] == {"mode": "fast"}
    secret = sandbox_cluster.get_json("secret", "creds", namespace)
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["token"]) == b"s3cr3t"
    sandbox_cluster.delete_namespace(namespace)


def test_it_creates_and_exposes_a_deployment(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl(
        "create", "deployment", "web", "-n", k8s_namespace, "--image=nginx:1.27", "--replicas=2", "--port=80"
    )
    exposed = sandbox_cluster.kubectl("expose", "deployment", "web", "-n", k8s_namespace, "--port=80")
    sandbox_cluster.kubectl("rollout", "status", "deployment/web", "-n", k8s_namespace, "--timeout=30s")

    assert exposed.stdout.strip() == "service/web exposed"
    live = sandbox_cluster.get_json("deployment", "web", k8s_namespace)
    assert live["spec"]["replicas"] == 2
    assert live["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert live["status"]["readyReplicas"] == 2
    assert sandbox_cluster.get_json("service", "web", k8s_namespace)["spec"]["selector"] == {"app": "web"}


def test_it_runs_a_pod_and_a_job(sandbox_cluster, k8s_namespace):
    sandbox_cluster.kubectl("run", "solo", "-n", k8s_namespace, "--image=nginx", "--labels=team=a", "--env=MODE=x")
    sandbox_cluster.kubectl("create", "job", "once", "-n", k8s_namespace, "--image=busybox")

    sandbox_cluster.kubectl("wait", "--for=condition=Ready", "pod/solo", "-n", k8s_namespace, "--timeout=30s")
    sandbox_cluster.kubectl("wait", "--for=condition=complete", "job/once", "-n", k8s_namespace, "--timeout=30s")

    pod = sandbox_cluster.get_json("pod", "solo", k8s_namespace)
    assert pod["metadata"]["labels"] == {"team": "a"}
    assert pod["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "x"}]
    assert pod["status"]["phase"] == "Running"


def test_it_creates_services_and_rbac_objects(sandbox_cluster, k8s_namespace):
    ns = ["-n", k8s_namespace]
    sandbox_cluster.kubectl("create", "service", "nodeport", "api", "--tcp=80:http", *ns)
    sandbox_cluster.kubectl("create", "serviceaccount", "bot", *ns)
    sandbox_cluster.kubectl("create", "role", "reader", "--verb=get,list", "--resource=pods", *ns)
    sandbox_cluster.kubectl(
        "create", "rolebinding", "reader-bot", "--role=reader", f"--serviceaccount={k8s_namespace}:bot", *ns
    )

    svc = sandbox_cluster.get_json("service", "api", k8s_namespace)
    role = sandbox_cluster.get_json("role", "reader", k8s_namespace)
    binding = sandbox_cluster.get_json("rolebinding", "reader-bot", k8s_namespace)

    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] < 32768
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": k8s_namespace}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
