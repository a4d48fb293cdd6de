from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from orgs import services
from orgs.api.common import OrgView, UserBriefOutput
from orgs.models import ClusterConnection, Role, User
from orgs.selectors import (
    CLUSTER_CODENAMES,
    audit_list,
    cluster_get,
    cluster_grant_get,
    cluster_grant_list,
    cluster_list,
    membership_require,
    team_get,
)
from orgs.tool_catalog import APPROVAL_NONE, APPROVAL_REQUIRED, ToolServerUnreachable, cluster_tool_catalog


class ClusterOutput(serializers.Serializer):
    """A cluster connection. The MCP token is never returned; `has_token` says whether one is set."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    mcp_server_url = serializers.URLField()
    has_token = serializers.SerializerMethodField()
    default_namespace = serializers.CharField()
    allowed_namespaces = serializers.ListField(child=serializers.CharField())
    read_only = serializers.BooleanField()
    is_sandbox = serializers.BooleanField()
    kind = serializers.ChoiceField(choices=ClusterConnection.Kind.choices)
    tool_allow = serializers.ListField(child=serializers.CharField())
    tool_deny = serializers.ListField(child=serializers.CharField())
    impersonate = serializers.BooleanField(help_text="Act as the person: each call runs as the asker's identity.")
    impersonation_user = serializers.CharField(help_text="The Kubernetes user name; placeholders {email}, {id}.")
    impersonation_group = serializers.CharField(help_text="One group per team of the person; placeholder {team}.")
    has_impersonation_key = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_has_token(self, cluster) -> bool:
        return bool(cluster.mcp_token_encrypted)

    def get_has_impersonation_key(self, cluster) -> bool:
        return bool(cluster.impersonation_key_encrypted)


class ClusterInput(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    mcp_server_url = serializers.URLField(max_length=500)
    mcp_server_token = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False)
    default_namespace = serializers.CharField(max_length=63, required=False)
    allowed_namespaces = serializers.ListField(child=serializers.CharField(max_length=63), required=False)
    read_only = serializers.BooleanField(required=False)
    kind = serializers.ChoiceField(choices=ClusterConnection.Kind.choices, required=False)
    tool_allow = serializers.ListField(child=serializers.CharField(max_length=128), required=False, max_length=200)
    tool_deny = serializers.ListField(child=serializers.CharField(max_length=128), required=False, max_length=200)
    impersonate = serializers.BooleanField(required=False)
    impersonation_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=False, max_length=512
    )
    impersonation_user = serializers.CharField(max_length=200, required=False)
    impersonation_group = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ClusterListView(OrgView):
    @extend_schema(responses={200: ClusterOutput(many=True)}, tags=["clusters"])
    def get(self, request, slug):
        return self.paged(cluster_list(user=request.user, org=self.get_org()), ClusterOutput)

    @extend_schema(request=ClusterInput, responses={201: ClusterOutput}, tags=["clusters"])
    def post(self, request, slug):
        data = ClusterInput(data=request.data)
        data.is_valid(raise_exception=True)
        cluster = services.cluster_create(actor=request.user, org=self.get_org(), ip=self.ip, **data.validated_data)
        return Response(ClusterOutput(cluster).data, status=status.HTTP_201_CREATED)


class ClusterScopedView(OrgView):
    def get_cluster(self) -> ClusterConnection:
        return cluster_get(user=self.request.user, org=self.get_org(), cluster_id=self.kwargs["cluster_id"])


class ClusterDetailView(ClusterScopedView):
    @extend_schema(responses={200: ClusterOutput}, tags=["clusters"])
    def get(self, request, slug, cluster_id):
        return Response(ClusterOutput(self.get_cluster()).data)

    @extend_schema(request=ClusterInput(partial=True), responses={200: ClusterOutput}, tags=["clusters"])
    def patch(self, request, slug, cluster_id):
        cluster = self.get_cluster()
        data = ClusterInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        cluster = services.cluster_update(actor=request.user, cluster=cluster, ip=self.ip, **data.validated_data)
        return Response(ClusterOutput(cluster).data)

    @extend_schema(responses={204: None}, tags=["clusters"])
    def delete(self, request, slug, cluster_id):
        services.cluster_delete(actor=request.user, cluster=self.get_cluster(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ToolAnnotationsOutput(serializers.Serializer):
    readOnlyHint = serializers.BooleanField(source="read_only_hint", allow_null=True)  # noqa: N815 - MCP's names
    destructiveHint = serializers.BooleanField(source="destructive_hint", allow_null=True)  # noqa: N815
    idempotentHint = serializers.BooleanField(source="idempotent_hint", allow_null=True)  # noqa: N815
    openWorldHint = serializers.BooleanField(source="open_world_hint", allow_null=True)  # noqa: N815


class ClusterToolOutput(serializers.Serializer):
    """A tool of the cluster's MCP server: `offered` (the allow/deny lists let the model see it) and `approval`
    (`none` only for readOnlyHint true; `required` otherwise, no annotations included)."""

    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    annotations = ToolAnnotationsOutput(source="*")
    offered = serializers.BooleanField()
    approval = serializers.ChoiceField(choices=[APPROVAL_NONE, APPROVAL_REQUIRED])


class ClusterToolPageOutput(serializers.Serializer):
    results = ClusterToolOutput(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class ToolServerErrorOutput(serializers.Serializer):
    detail = serializers.CharField()


class ToolServerBadGateway(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = (
        "Could not list this cluster's tools: check the MCP server's URL, its token and that it is running."
    )
    default_code = "tool_server_unreachable"


class ClusterToolsView(ClusterScopedView):
    @extend_schema(responses={200: ClusterToolPageOutput, 502: ToolServerErrorOutput}, tags=["clusters"])
    def get(self, request, slug, cluster_id):
        """The MCP server's tools with their annotations and the approval they get (admins)."""
        membership_require(user=request.user, org=self.get_org(), role=Role.ADMIN)
        try:
            tools = cluster_tool_catalog(self.get_cluster())
        except ToolServerUnreachable:
            raise ToolServerBadGateway from None
        # A server lists tens of tools: one page, in the list shape every endpoint answers.
        return Response({"results": ClusterToolOutput(tools, many=True).data, "next": None, "previous": None})


class GrantTeamOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class GrantOutput(serializers.Serializer):
    id = serializers.UUIDField()
    permission = serializers.ChoiceField(choices=CLUSTER_CODENAMES)
    team = GrantTeamOutput(allow_null=True)
    user = UserBriefOutput(allow_null=True)


class GrantPageOutput(serializers.Serializer):
    results = GrantOutput(many=True)
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)


class GrantListView(ClusterScopedView):
    @extend_schema_serializer(component_name="GrantCreateInput")
    class InputSerializer(serializers.Serializer):
        permission = serializers.ChoiceField(choices=CLUSTER_CODENAMES)
        team = serializers.UUIDField(required=False)
        user = serializers.UUIDField(required=False)

        def validate(self, attrs):
            if ("team" in attrs) == ("user" in attrs):
                raise serializers.ValidationError("Give exactly one of team or user.")
            return attrs

    @extend_schema(responses={200: GrantPageOutput}, tags=["clusters"], operation_id="orgs_clusters_grants_list")
    def get(self, request, slug, cluster_id):
        grants = cluster_grant_list(user=request.user, cluster=self.get_cluster())
        # A cluster has a handful of grants: one page, in the list shape every endpoint answers.
        return Response({"results": GrantOutput(grants, many=True).data, "next": None, "previous": None})

    @extend_schema(request=InputSerializer, responses={201: GrantOutput}, tags=["clusters"])
    def post(self, request, slug, cluster_id):
        cluster = self.get_cluster()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team_id, user_id = data.validated_data.get("team"), data.validated_data.get("user")
        team = team_get(user=request.user, org=cluster.org, team_id=team_id) if team_id else None
        user = User.objects.filter(pk=user_id).first() if user_id else None
        if user_id and user is None:
            raise serializers.ValidationError({"user": "Not a member of this organisation."})
        grant = services.cluster_grant_create(
            actor=request.user,
            cluster=cluster,
            permission=data.validated_data["permission"],
            team=team,
            user=user,
            ip=self.ip,
        )
        return Response(GrantOutput(grant).data, status=status.HTTP_201_CREATED)


class GrantDetailView(ClusterScopedView):
    @extend_schema(responses={200: GrantOutput}, tags=["clusters"])
    def get(self, request, slug, cluster_id, grant_id):
        return Response(
            GrantOutput(cluster_grant_get(user=request.user, cluster=self.get_cluster(), grant_id=grant_id)).data
        )

    @extend_schema(responses={204: None}, tags=["clusters"])
    def delete(self, request, slug, cluster_id, grant_id):
        services.cluster_grant_delete(actor=request.user, cluster=self.get_cluster(), grant_id=grant_id, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditOutput(serializers.Serializer):
    id = serializers.UUIDField()
    action = serializers.CharField()
    actor_email = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    data = serializers.JSONField()
    client_ip = serializers.IPAddressField(allow_null=True)
    created_at = serializers.DateTimeField()


class AuditListView(OrgView):
    @extend_schema(responses={200: AuditOutput(many=True)}, tags=["audit"])
    def get(self, request, slug):
        return self.paged(audit_list(user=request.user, org=self.get_org()), AuditOutput)
