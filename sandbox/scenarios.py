"""Named cluster states a test (or the embedded demo) can seed: `crashloop`, `imagepull`, `pending`,
`orphan-service` and `demo`, by default in namespace `shop`.

Seeding is idempotent: objects that already exist are left alone."""

from __future__ import annotations

import base64
from collections.abc import Callable

from sandbox.logs import BEHAVIOR_ANNOTATION, LOGS_ANNOTATION
from sandbox.resources import BY_KIND
from sandbox.store import Store

NAMESPACE = "shop"

PAYMENTS_LOGS = """2026-01-01T00:00:00Z INFO  Starting payments service v2.3.1
2026-01-01T00:00:00Z INFO  Loading configuration from /etc/payments/config.yaml
2026-01-01T00:00:01Z INFO  Connecting to database at postgres://payments-db.shop.svc:5432/payments
Traceback (most recent call last):
  File "/app/payments/main.py", line 42, in <module>
    app = create_app()
  File "/app/payments/main.py", line 18, in create_app
    db.connect(os.environ["PAYMENTS_DATABASE_URL"])
  File "/usr/local/lib/python3.12/os.py", line 714, in __getitem__
    raise KeyError(key) from None
KeyError: 'PAYMENTS_DATABASE_URL'
"""


def deployment(
    namespace: str,
    name: str,
    image: str,
    *,
    replicas: int = 1,
    port: int = 8080,
    annotations: dict | None = None,
    resources: dict | None = None,
) -> dict:
    labels = {"app": name}
    container = {"name": name, "image": image, "ports": [{"containerPort": port, "name": "http"}]}
    if resources:
        container["resources"] = resources
    template_meta: dict = {"labels": labels}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": template_meta, "spec": {"containers": [container]}},
        },
    }


def service(
    namespace: str, name: str, *, port: int = 80, target: int | str = "http", selector: dict | None = None
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "selector": selector if selector is not None else {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def crashloop(ns: str) -> list[dict]:
    annotations = {BEHAVIOR_ANNOTATION: "crashloop", LOGS_ANNOTATION: PAYMENTS_LOGS}
    return [deployment(ns, "payments", "ghcr.io/skyflo-demo/payments:2.3.1", annotations=annotations)]


def imagepull(ns: str) -> list[dict]:
    return [deployment(ns, "inventory", "ghcr.io/skyflo-demo/inventory:doesnotexist")]


def pending(ns: str) -> list[dict]:
    big = {"requests": {"cpu": "16", "memory": "1Gi"}}
    return [deployment(ns, "analytics", "ghcr.io/skyflo-demo/analytics:1.0.0", resources=big)]


def orphan_service(ns: str) -> list[dict]:
    return [service(ns, "legacy-api", port=8080, target=8080, selector={"app": "legacy-api-v1"})]


def demo(ns: str) -> list[dict]:
    secret_data = {"STRIPE_API_KEY": "sk_test_sandbox_not_a_real_key", "SESSION_SECRET": "sandbox-session-secret"}
    return [
        deployment(ns, "web", "nginx:1.27", replicas=2, port=80),
        deployment(ns, "checkout", "ghcr.io/skyflo-demo/checkout:1.4.0"),
        service(ns, "web", port=80),
        service(ns, "checkout", port=8080),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shop-config", "namespace": ns},
            "data": {"CHECKOUT_URL": "http://checkout.shop.svc:8080", "FEATURE_NEW_CART": "true"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "shop-secrets", "namespace": ns},
            "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret_data.items()},
        },
        *crashloop(ns),
    ]


SCENARIOS: dict[str, Callable[[str], list[dict]]] = {
    "crashloop": crashloop,
    "imagepull": imagepull,
    "pending": pending,
    "orphan-service": orphan_service,
    "demo": demo,
}


def seed(store: Store, name: str, namespace: str = NAMESPACE) -> list[str]:
    """Create the scenario's objects (and its namespace); returns `kind/name` of what was created."""
    created = []
    namespaces = BY_KIND["Namespace"]
    if store.find(namespaces, "", namespace) is None:
        store.create(namespaces, "", {"metadata": {"name": namespace}})
        created.append(f"namespace/{namespace}")
    for obj in SCENARIOS[name](namespace):
        rt = BY_KIND[obj["kind"]]
        if store.find(rt, namespace, obj["metadata"]["name"]) is None:
            store.create(rt, namespace, obj)
            created.append(f"{rt.singular}/{obj['metadata']['name']}")
    return created
