from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from orgs import services
from orgs.api.common import NameCursorPagination, OrgView, UserBriefOutput
from orgs.models import Role
from orgs.selectors import member_get, member_list, membership_get, org_list


class OrgOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    four_eyes = serializers.BooleanField()
    role = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_role(self, org) -> str:
        if hasattr(org, "user_role"):  # annotated by org_list
            return org.user_role or ""
        membership = membership_get(user=self.context["request"].user, org=org)
        return membership.role if membership else ""


class OrgListView(OrgView):
    pagination_class = NameCursorPagination

    @extend_schema_serializer(component_name="OrgCreateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        slug = serializers.SlugField(max_length=63, required=False)

    @extend_schema(responses={200: OrgOutput(many=True)}, tags=["orgs"])
    def get(self, request):
        page = self.paginate_queryset(org_list(user=request.user))
        return self.get_paginated_response(OrgOutput(page, many=True, context={"request": request}).data)

    @extend_schema(request=InputSerializer, responses={201: OrgOutput}, tags=["orgs"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = services.org_create(actor=request.user, ip=self.ip, **data.validated_data)
        return Response(OrgOutput(org, context={"request": request}).data, status=status.HTTP_201_CREATED)


class OrgDetailView(OrgView):
    @extend_schema_serializer(component_name="OrgUpdateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)
        four_eyes = serializers.BooleanField(required=False)

    @extend_schema(responses={200: OrgOutput}, tags=["orgs"])
    def get(self, request, slug):
        return Response(OrgOutput(self.get_org(), context={"request": request}).data)

    @extend_schema(request=InputSerializer, responses={200: OrgOutput}, tags=["orgs"])
    def patch(self, request, slug):
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        org = services.org_update(actor=request.user, org=self.get_org(), ip=self.ip, **data.validated_data)
        return Response(OrgOutput(org, context={"request": request}).data)

    @extend_schema(responses={204: None}, tags=["orgs"])
    def delete(self, request, slug):
        services.org_delete(actor=request.user, org=self.get_org(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberOutput(serializers.Serializer):
    id = serializers.UUIDField()
    user = UserBriefOutput()
    role = serializers.ChoiceField(choices=Role.choices)
    created_at = serializers.DateTimeField()


class MemberListView(OrgView):
    @extend_schema(responses={200: MemberOutput(many=True)}, tags=["members"])
    def get(self, request, slug):
        return self.paged(member_list(user=request.user, org=self.get_org()), MemberOutput)


class MemberDetailView(OrgView):
    @extend_schema_serializer(component_name="MemberRoleInput")
    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.choices)

    def get_membership(self):
        return member_get(user=self.request.user, org=self.get_org(), membership_id=self.kwargs["member_id"])

    @extend_schema(responses={200: MemberOutput}, tags=["members"])
    def get(self, request, slug, member_id):
        return Response(MemberOutput(self.get_membership()).data)

    @extend_schema(request=InputSerializer, responses={200: MemberOutput}, tags=["members"])
    def patch(self, request, slug, member_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_role_change(
            actor=request.user, membership=self.get_membership(), role=data.validated_data["role"], ip=self.ip
        )
        return Response(MemberOutput(membership).data)

    @extend_schema(responses={204: None}, tags=["members"])
    def delete(self, request, slug, member_id):
        services.member_remove(actor=request.user, membership=self.get_membership(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnershipTransferView(OrgView):
    @extend_schema_serializer(component_name="OwnershipTransferInput")
    class InputSerializer(serializers.Serializer):
        user = serializers.UUIDField()

    @extend_schema(request=InputSerializer, responses={200: MemberOutput}, tags=["members"])
    def post(self, request, slug):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.ownership_transfer(
            actor=request.user, org=self.get_org(), to_user=data.validated_data["user"], ip=self.ip
        )
        return Response(MemberOutput(membership).data)
