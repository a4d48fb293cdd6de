from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from orgs import services
from orgs.api.common import EmailCursorPagination, OrgView, UserBriefOutput
from orgs.selectors import team_get, team_list, team_member_list


class TeamOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    member_count = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_member_count(self, team) -> int:
        if hasattr(team, "member_count"):  # annotated by team_list
            return team.member_count
        return team.group.user_set.count()


class TeamInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class TeamListView(OrgView):
    @extend_schema(responses={200: TeamOutput(many=True)}, tags=["teams"])
    def get(self, request, slug):
        return self.paged(team_list(user=request.user, org=self.get_org()), TeamOutput)

    @extend_schema(request=TeamInput, responses={201: TeamOutput}, tags=["teams"])
    def post(self, request, slug):
        data = TeamInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_create(actor=request.user, org=self.get_org(), ip=self.ip, **data.validated_data)
        return Response(TeamOutput(team).data, status=status.HTTP_201_CREATED)


class TeamScopedView(OrgView):
    def get_team(self):
        return team_get(user=self.request.user, org=self.get_org(), team_id=self.kwargs["team_id"])


class TeamDetailView(TeamScopedView):
    @extend_schema(responses={200: TeamOutput}, tags=["teams"])
    def get(self, request, slug, team_id):
        return Response(TeamOutput(self.get_team()).data)

    @extend_schema(request=TeamInput, responses={200: TeamOutput}, tags=["teams"])
    def patch(self, request, slug, team_id):
        data = TeamInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_update(actor=request.user, team=self.get_team(), ip=self.ip, **data.validated_data)
        return Response(TeamOutput(team).data)

    @extend_schema(responses={204: None}, tags=["teams"])
    def delete(self, request, slug, team_id):
        services.team_delete(actor=request.user, team=self.get_team(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMemberListView(TeamScopedView):
    pagination_class = EmailCursorPagination

    @extend_schema_serializer(component_name="TeamMemberAddInput")
    class InputSerializer(serializers.Serializer):
        user = serializers.UUIDField()

    @extend_schema(responses={200: UserBriefOutput(many=True)}, tags=["teams"])
    def get(self, request, slug, team_id):
        return self.paged(team_member_list(user=request.user, team=self.get_team()), UserBriefOutput)

    @extend_schema(request=InputSerializer, responses={201: UserBriefOutput}, tags=["teams"])
    def post(self, request, slug, team_id):
        team = self.get_team()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.team_member_add(actor=request.user, team=team, user=data.validated_data["user"], ip=self.ip)
        return Response(UserBriefOutput(user).data, status=status.HTTP_201_CREATED)


class TeamMemberDetailView(TeamScopedView):
    @extend_schema(responses={204: None}, tags=["teams"])
    def delete(self, request, slug, team_id, user_id):
        team = self.get_team()
        user = get_object_or_404(team_member_list(user=request.user, team=team), pk=user_id)
        services.team_member_remove(actor=request.user, team=team, user=user, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)
