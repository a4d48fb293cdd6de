"""Parameter types shared by the toolsets (each with the description the model reads)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Kind = Annotated[
    str,
    Field(
        description="Resource type as kubectl accepts it: plural, singular, short name or Kind, optionally "
        "with group (e.g. 'deployments', 'deploy', 'Deployment', 'deployments.apps', 'pods,services')."
    ),
]
Name = Annotated[str, Field(description="Object name (DNS-1123).")]
OptionalName = Annotated[str | None, Field(description="Object name; omit to list all objects of the kind.")]
Namespace = Annotated[
    str | None,
    Field(description="Namespace. Omit for cluster-scoped kinds or to use the server's default namespace."),
]
RequiredNamespace = Annotated[str, Field(description="Namespace the object lives in.")]
Selector = Annotated[
    str | None, Field(description="Label selector, e.g. 'app=web,tier!=cache' or 'env in (prod,stage)'.")
]
AllNamespaces = Annotated[
    bool, Field(description="List across all namespaces (refused when the server has a namespace allow-list).")
]
WorkloadKind = Annotated[
    Literal["deployment", "statefulset", "daemonset"],
    Field(description="Workload kind that supports rollouts."),
]
ScalableKind = Annotated[
    Literal["deployment", "statefulset", "replicaset"],
    Field(description="Workload kind to scale."),
]
PodOwnerKind = Annotated[
    Literal["pod", "deployment", "statefulset", "daemonset", "job", "replicaset"],
    Field(description="Kind of `name`: a pod, or a workload whose pod to read."),
]
PatchType = Annotated[
    Literal["strategic", "merge", "json"],
    Field(description="strategic merge patch (default), JSON merge patch, or JSON patch (a list of ops)."),
]
Release = Annotated[str, Field(description="Helm release name.")]
Chart = Annotated[
    str,
    Field(
        description="Chart reference: 'repo/chart' (a repository added with helm_repo_add) or an https:// or oci:// "
        "URL, always under one of the server's configured chart repositories; local paths are refused."
    ),
]
ValuesYaml = Annotated[str, Field(description="Values as a YAML document (passed on stdin as -f -); empty: none.")]
SetValues = Annotated[
    dict[str, str | int | float | bool | None] | None,
    Field(description="Individual values as {'path.to.key': value} (helm --set)."),
]
ChartVersion = Annotated[str | None, Field(description="Chart version constraint, e.g. '1.2.3' or '^1.0'.")]
