"""REST API for conversations, shares, message history and event replay (DESIGN.md "HTTP API").

Views parse, call a selector or service, render. `ConversationMessagesView` answers GET; the workflow app
subclasses it with a `post` and mounts the subclass on the same path before ours.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from chats import selectors, services
from chats.events import event_frame, ts_format
from chats.models import Conversation, Message
from orgs.models import Organization
from skyflo.api_errors import ACCESS_ERRORS as ERRORS
from skyflo.client_ip import client_ip
from skyflo.pagination import CursorPagination

EVENT_PAGE = 500


class ActivityPagination(CursorPagination):
    ordering = ("-last_activity_at", "-id")


class HistoryPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class ConversationOutput(serializers.ModelSerializer):
    org = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cluster = serializers.PrimaryKeyRelatedField(read_only=True)
    owner = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id", "org", "cluster", "namespace", "title", "owner", "archived",
            "last_seq", "created_at", "updated_at", "last_activity_at",
        ]  # fmt: skip

    # What a list page reads: the list asks for these columns only (a cluster row carries secrets and JSON).
    LIST_COLUMNS = (
        "id", "org__slug", "cluster_id", "namespace", "title", "owner__email", "owner__full_name", "archived",
        "last_seq", "created_at", "updated_at", "last_activity_at",
    )  # fmt: skip

    def get_owner(self, obj) -> dict:
        return {"id": str(obj.owner_id), "email": obj.owner.email, "full_name": obj.owner.full_name}

    def to_representation(self, instance) -> dict:
        # Written out: DRF's field-by-field walk cost a list page more CPU than its query did.
        return {
            "id": str(instance.id),
            "org": instance.org.slug,
            "cluster": instance.cluster_id and str(instance.cluster_id),
            "namespace": instance.namespace,
            "title": instance.title,
            "owner": self.get_owner(instance),
            "archived": instance.archived,
            "last_seq": instance.last_seq,
            "created_at": ts_format(instance.created_at),
            "updated_at": ts_format(instance.updated_at),
            "last_activity_at": ts_format(instance.last_activity_at),
        }


class MessageOutput(serializers.ModelSerializer):
    author = serializers.PrimaryKeyRelatedField(read_only=True)
    run = serializers.UUIDField(source="run_id", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "conversation", "role", "author", "content", "run", "created_at"]


class ConversationDetailOutput(ConversationOutput):
    can_ask = serializers.BooleanField(read_only=True, help_text="You may post messages here.")
    can_manage = serializers.BooleanField(read_only=True, help_text="You may rename, delete and share it.")

    class Meta(ConversationOutput.Meta):
        fields = [*ConversationOutput.Meta.fields, "can_ask", "can_manage"]


class ShareOutput(serializers.Serializer):
    team = serializers.UUIDField()
    name = serializers.CharField()
    can_ask = serializers.BooleanField()


class EventFrameOutput(serializers.Serializer):
    type = serializers.CharField()
    seq = serializers.IntegerField()
    run = serializers.UUIDField(allow_null=True)
    ts = serializers.DateTimeField()
    data = serializers.DictField()


def _conversation_detail(request, conversation) -> dict:
    data = ConversationOutput(conversation).data
    data["can_ask"] = selectors.conversation_can_ask(user=request.user, conversation=conversation)
    data["can_manage"] = selectors.conversation_can_manage(user=request.user, conversation=conversation)
    return data


class ConversationListView(APIView):
    class FilterInput(serializers.Serializer):
        org = serializers.SlugField(required=False)
        q = serializers.CharField(required=False, allow_blank=True, max_length=200)

    class CreateInput(serializers.Serializer):
        org = serializers.SlugField()
        cluster = serializers.UUIDField()
        title = serializers.CharField(required=False, allow_blank=True, max_length=200)
        namespace = serializers.CharField(required=False, allow_blank=True, max_length=63)

    @extend_schema(
        operation_id="conversations_list",
        parameters=[
            OpenApiParameter("org", str, description="Only this organisation (slug)."),
            OpenApiParameter("q", str, description="Words in the title or in any message."),
        ],
        responses={200: ConversationOutput(many=True), **ERRORS},
        summary="Conversations I may see, latest activity first.",
    )
    def get(self, request):
        params = self.FilterInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        org = None
        if slug := params.validated_data.get("org"):
            org = get_object_or_404(Organization, slug=slug, memberships__user=request.user)
        conversations = selectors.conversation_list(user=request.user, org=org, q=params.validated_data.get("q", ""))
        conversations = conversations.select_related(None).select_related("org", "owner")
        conversations = conversations.only(*ConversationOutput.LIST_COLUMNS)
        paginator = ActivityPagination()
        page = paginator.paginate_queryset(conversations, request, view=self)
        return paginator.get_paginated_response(ConversationOutput(page, many=True).data)

    @extend_schema(request=CreateInput, responses={201: ConversationDetailOutput, 400: None, **ERRORS})
    def post(self, request):
        body = self.CreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        conversation = services.conversation_create(
            user=request.user,
            org_slug=data["org"],
            cluster_id=data["cluster"],
            title=data.get("title", ""),
            namespace=data.get("namespace", ""),
        )
        return Response(_conversation_detail(request, conversation), status=status.HTTP_201_CREATED)


class ConversationDetailView(APIView):
    class RenameInput(serializers.Serializer):
        title = serializers.CharField(allow_blank=True, max_length=200)

    @extend_schema(responses={200: ConversationDetailOutput, **ERRORS})
    def get(self, request, pk):
        conversation = selectors.conversation_get_for_view(user=request.user, conversation_id=pk)
        return Response(_conversation_detail(request, conversation))

    @extend_schema(request=RenameInput, responses={200: ConversationDetailOutput, 400: None, **ERRORS})
    def patch(self, request, pk):
        body = self.RenameInput(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = services.conversation_rename(
            user=request.user, conversation_id=pk, title=body.validated_data["title"]
        )
        return Response(_conversation_detail(request, conversation))

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, pk):
        services.conversation_delete(user=request.user, conversation_id=pk, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationSharesView(APIView):
    class ShareInput(serializers.Serializer):
        team = serializers.UUIDField()
        can_ask = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses={200: ShareOutput(many=True), **ERRORS}, summary="Teams this conversation is shared with.")
    def get(self, request, pk):
        conversation = selectors.conversation_get_for_view(user=request.user, conversation_id=pk)
        shares = selectors.conversation_shares(user=request.user, conversation=conversation)
        return Response({"results": shares, "next": None, "previous": None})

    @extend_schema(request=ShareInput, responses={201: ShareOutput, 400: None, **ERRORS})
    def post(self, request, pk):
        body = self.ShareInput(data=request.data)
        body.is_valid(raise_exception=True)
        share = services.conversation_share(
            user=request.user,
            conversation_id=pk,
            team_id=body.validated_data["team"],
            can_ask=body.validated_data["can_ask"],
            ip=client_ip(request),
        )
        return Response(share, status=status.HTTP_201_CREATED)


class ConversationShareDetailView(APIView):
    @extend_schema(responses={204: None, **ERRORS}, summary="Stop sharing with a team.")
    def delete(self, request, pk, team_id):
        services.conversation_unshare(user=request.user, conversation_id=pk, team_id=team_id, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationMessagesView(APIView):
    """GET: message history, newest first, in cursor pages. The workflow app adds POST in a subclass."""

    @extend_schema(responses={200: MessageOutput(many=True), **ERRORS}, summary="Message history, newest first.")
    def get(self, request, pk):
        conversation = selectors.conversation_get_for_view(user=request.user, conversation_id=pk)
        messages = selectors.message_list(user=request.user, conversation=conversation)
        paginator = HistoryPagination()
        page = paginator.paginate_queryset(messages, request, view=self)
        return paginator.get_paginated_response(MessageOutput(page, many=True).data)


class RunEventsView(APIView):
    """Event replay: frames of the run with seq > after, in seq order, up to EVENT_PAGE per page."""

    class ReplayInput(serializers.Serializer):
        after = serializers.IntegerField(required=False, default=0, min_value=0)

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="Return events with seq greater than this.")],
        responses={200: EventFrameOutput(many=True), **ERRORS},
        summary="Replay a run's events after a seq.",
    )
    def get(self, request, pk):
        params = self.ReplayInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        conversation = selectors.run_conversation_get_for_view(user=request.user, run_id=pk)
        events = list(
            selectors.run_events_after(
                user=request.user,
                conversation=conversation,
                after=params.validated_data["after"],
                run_id=pk,
                limit=EVENT_PAGE,
            )
        )
        frames = [event_frame(type=e.type, seq=e.seq, run_id=e.run_id, ts=e.ts, data=e.data) for e in events]
        next_url = None
        if len(events) == EVENT_PAGE:
            next_url = reverse("run-events", kwargs={"pk": pk}, request=request) + f"?after={events[-1].seq}"
        return Response({"results": frames, "next": next_url, "previous": None})
