"""Sandbox Kubernetes API server: a stateful, in-memory stand-in that the real kubectl v1.32 and helm v3.17 drive.

Run it with `python -m sandbox --port 0 --kubeconfig /tmp/kc [--scenario demo]`; the kubeconfig is written once the
socket is bound. It imports nothing from the product (no Django).

What it serves: discovery, an OpenAPI v3 stub, list/get/create/replace/patch (merge, strategic, JSON patch,
server-side apply)/delete/deletecollection/watch for the common kinds, Table output, `/scale`, `pods/log`,
`dryRun=All`, label and field selectors, and a controller loop that turns Deployments into ReplicaSets and
Running pods, StatefulSets/DaemonSets/Jobs into pods, Services into Endpoints, and records Events.

Steering pod behaviour from a manifest (set on the pod, or on a workload's pod template):
- annotation `sandbox.skyflo.dev/logs`: its value becomes the container log text served by `kubectl logs`
  (`sandbox.skyflo.dev/logs.<container>` overrides it for one container). Tests that put hostile text into
  logs (prompt injection) use this.
- annotation `sandbox.skyflo.dev/behavior`: `crashloop` (CrashLoopBackOff, restartCount grows) or `imagepull`.
- annotations `sandbox.skyflo.dev/requires-env`, `…/entrypoint`, `…/listens-on` and `…/http-paths` state what the
  image needs; the kubelet judges the current spec against them (missing env or a wrong command crash-loops, a
  probe on the wrong port or path fails readiness or liveness): see `sandbox/behaviors.py`.
- an image whose tag contains `doesnotexist` fails to pull (ErrImagePull, then ImagePullBackOff).
- a pod requesting more cpu than the node has (4 cores) stays Pending with a FailedScheduling event.

Scenarios (`--scenario NAME`, `POST /sandbox/scenarios/NAME`, or `sandbox_cluster.scenario(NAME)` in tests),
all in namespace `shop`: `crashloop` (deployment `payments`), `imagepull` (deployment `inventory`), `pending`
(deployment `analytics`), `orphan-service` (service `legacy-api`), `demo` (`web`, `checkout`, their services,
ConfigMap `shop-config`, Secret `shop-secrets`, plus `payments`).

Every request answered is logged in order (method, path, verb, namespace, resource, name, status, dry run,
user agent, time, and who: user, groups, impersonated_by): `GET /sandbox/requests?after=SEQ` (`sandbox/audit.py`),
so tests and evals can tell what a client really changed, and as whom.

Identity and RBAC (`sandbox/rbac.py`): bearer tokens (the kubeconfig's admin token is in `system:masters` and is
never limited; `POST /sandbox/users` with it mints more, `SandboxProcess.add_user` in tests), impersonation
(`kubectl --as/--as-group`) only for callers allowed to `impersonate`, and every other identity authorised by the
Roles, ClusterRoles, RoleBindings and ClusterRoleBindings stored, answered with Kubernetes' own 403 Status;
`kubectl auth can-i` (Self{Subject,Rules}Reviews) tells the truth. A fresh cluster has the default ClusterRoles
`cluster-admin`, `admin`, `edit` and `view` (`sandbox/default_roles.py`; `view` cannot read Secrets).

Protobuf request bodies (sent by imperative `kubectl create namespace|configmap|secret|deployment|job`, `kubectl
run`, and helm's default Secret storage driver) are decoded for those kinds and their common fields only
(`sandbox/protobuf.py`); other protobuf bodies get 415. Responses are always JSON.

Not supported: exec/attach/port-forward (no streaming upgrades), the metrics API (`kubectl top`), aggregated
discovery (plain discovery documents are served instead), `/openapi/v2` (so a `kind: List` document needs
`--validate=false`; multi-document YAML works), admission webhooks, ClusterRole aggregation,
and pagination (`limit` is ignored; lists are returned whole).
"""
