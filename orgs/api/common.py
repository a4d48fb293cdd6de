from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from orgs.models import Organization
from orgs.selectors import org_get
from skyflo.client_ip import client_ip
from skyflo.pagination import CursorPagination


class UserBriefOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    full_name = serializers.CharField()


class OrgView(GenericAPIView):
    """A view under /orgs/{slug}/: the organisation is fetched through the caller's memberships (404 otherwise)."""

    def get_org(self) -> Organization:
        if not hasattr(self, "_org"):
            self._org = org_get(user=self.request.user, slug=self.kwargs["slug"])
        return self._org

    @property
    def ip(self) -> str | None:
        return client_ip(self.request)

    def paged(self, queryset, output_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(output_class(page, many=True).data)


class EmailCursorPagination(CursorPagination):
    ordering = "email"


class NameCursorPagination(CursorPagination):
    ordering = "name"
