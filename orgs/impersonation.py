"""Acting as the person on a cluster connection: who a Skyflo user is to Kubernetes, and the signer of the identity
assertion each tool call carries to the tool server (the assertion's form and its checks: mcp_server/identity.py).

The mapping is per connection: `impersonation_user` (placeholders `{email}`, `{id}`; default `{email}`) gives the
Kubernetes user name, `impersonation_group` (placeholder `{team}`, the slug of each of the person's teams in the
connection's organisation; default `skyflo:team:{team}`; blank for none) one group per team.

Whose identity a call carries: always the person who asked (the requester). An approved mutating call still runs as
the requester, and its assertion also names the approver, without which the tool server refuses a mutating call. So
the cluster's RBAC must allow the change to the person who asked for it: an approval adds a second pair of eyes,
never the approver's cluster rights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.utils.text import slugify

from agents.errors import ToolServerError
from mcp_server.identity import assertion_sign, identity_name_problem
from orgs.models import Team


class ImpersonationError(ToolServerError):
    """The person cannot be given a Kubernetes identity on this connection (run.error tool_server_unreachable: the
    connection's settings are what to fix); the sentence says so."""


@dataclass(frozen=True)
class KubeIdentity:
    user: str
    groups: tuple[str, ...]


def kube_identity(user, cluster) -> KubeIdentity:
    """The Kubernetes user name and groups `user` has on `cluster` (sync: reads the person's teams)."""
    name = cluster.impersonation_user.format(email=user.email, id=user.pk)
    groups: list[str] = []
    if cluster.impersonation_group.strip():
        teams = Team.objects.filter(org_id=cluster.org_id, group__user=user).order_by("name")
        groups = sorted({cluster.impersonation_group.format(team=slugify(team.name)) for team in teams})
    for candidate in (name, *groups):
        problem = identity_name_problem(candidate)
        if problem is not None:
            sentence = (
                f"This cluster connection acts as the person, and its identity mapping gives {problem}: an admin "
                "must change the connection's mapping. Nothing was run."
            )
            raise ImpersonationError(sentence, sentence=sentence)
    return KubeIdentity(name, tuple(groups))


@dataclass(frozen=True)
class CallSigner:
    """Signs the identity assertion of each tool call of one run: the requester, and for an approved call its
    approver (`approvers`: call id -> the approver's Kubernetes user name)."""

    key: bytes
    requester: KubeIdentity
    approvers: Mapping[str, str]

    def __call__(self, call_id: str, tool: str, args: dict) -> str:
        return assertion_sign(
            self.key,
            user=self.requester.user,
            groups=self.requester.groups,
            call_id=call_id,
            tool=tool,
            args=args,
            approver=self.approvers.get(call_id),
        )


def call_signer(
    cluster, requester, approvers: Callable[[], Mapping[str, object]]
) -> Callable[[str, str, dict], str] | None:
    """The run's signer when the connection acts as the person, else None (sync: reads teams and approvals).

    `approvers()`: call id -> the User who approved that call (the run's approved calls); asked only when needed."""
    if not cluster.impersonate:
        return None
    approved = approvers()
    names = {call_id: kube_identity(user, cluster).user for call_id, user in approved.items() if user is not None}
    return CallSigner(cluster.impersonation_key.encode(), kube_identity(requester, cluster), names)
