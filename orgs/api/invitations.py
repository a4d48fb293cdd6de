from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs import services
from orgs.api.common import OrgView, UserBriefOutput
from orgs.models import Role
from orgs.selectors import invitation_get, invitation_list, team_list
from skyflo.client_ip import client_ip


class InvitationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    teams = serializers.SerializerMethodField()
    invited_by = UserBriefOutput(allow_null=True)
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_teams(self, invitation) -> list[str]:
        return [str(team.pk) for team in invitation.teams.all()]


class InvitationCreatedOutput(InvitationOutput):
    token = serializers.CharField(help_text="Shown this once; send it to the invitee.")


class InvitationListView(OrgView):
    @extend_schema_serializer(component_name="InvitationCreateInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)
        teams = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)

    @extend_schema(responses={200: InvitationOutput(many=True)}, tags=["invitations"])
    def get(self, request, slug):
        return self.paged(invitation_list(user=request.user, org=self.get_org()), InvitationOutput)

    @extend_schema(request=InputSerializer, responses={201: InvitationCreatedOutput}, tags=["invitations"])
    def post(self, request, slug):
        org = self.get_org()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team_ids = set(data.validated_data["teams"])
        teams = list(team_list(user=request.user, org=org).filter(pk__in=team_ids))
        if len(teams) != len(team_ids):
            raise serializers.ValidationError({"teams": "Unknown team."})
        invitation, token = services.invitation_create(
            actor=request.user,
            org=org,
            email=data.validated_data["email"],
            role=data.validated_data["role"],
            teams=teams,
            ip=self.ip,
        )
        body = {**InvitationOutput(invitation).data, "token": token}
        return Response(body, status=status.HTTP_201_CREATED)


class InvitationDetailView(OrgView):
    @extend_schema(responses={200: InvitationOutput}, tags=["invitations"])
    def get(self, request, slug, invitation_id):
        return Response(
            InvitationOutput(invitation_get(user=request.user, org=self.get_org(), invitation_id=invitation_id)).data
        )

    @extend_schema(responses={204: None}, tags=["invitations"])
    def delete(self, request, slug, invitation_id):
        invitation = invitation_get(user=request.user, org=self.get_org(), invitation_id=invitation_id)
        services.invitation_revoke(actor=request.user, invitation=invitation, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptView(APIView):
    @extend_schema_serializer(component_name="InvitationAcceptOutput")
    class MembershipOutput(serializers.Serializer):
        org = serializers.SlugField(source="org.slug")
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(request=None, responses={200: MembershipOutput}, tags=["invitations"])
    def post(self, request, token):
        membership = services.invitation_accept(actor=request.user, token=token, ip=client_ip(request))
        return Response(self.MembershipOutput(membership).data)
