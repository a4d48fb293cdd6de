"""The endpoints that start and steer runs: post a message, run state, cancel, decide an approval.

Views parse, call a service or selector, and render; the rules live in workflows/services.py.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.api import ConversationMessagesView as ChatMessagesView
from chats.api import MessageOutput
from chats.selectors import conversation_get_for_view
from skyflo.api_errors import ACCESS_ERRORS as ERRORS
from skyflo.throttles import ScopedRateThrottle
from workflows import selectors, services
from workflows.models import Approval, Run


class ApprovalOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    run = serializers.UUIDField(source="run_id")
    call_id = serializers.CharField()
    tool = serializers.CharField()
    args = serializers.JSONField()
    proposed_args = serializers.JSONField(allow_null=True)
    edited_by = serializers.UUIDField(source="edited_by_id", allow_null=True)
    preview = serializers.CharField()
    requested_by = serializers.UUIDField(source="requested_by_id")
    decided_by = serializers.UUIDField(source="decided_by_id", allow_null=True)
    decision = serializers.ChoiceField(choices=Approval.Decision.choices)
    reason = serializers.CharField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost_usd = serializers.FloatField()
    duration_ms = serializers.IntegerField()


class RunOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    conversation = serializers.UUIDField(source="conversation_id")
    message = serializers.UUIDField(source="message_id", allow_null=True)
    requested_by = serializers.UUIDField(source="requested_by_id")
    status = serializers.ChoiceField(choices=Run.Status.choices)
    cancel_requested = serializers.BooleanField()
    attempt = serializers.IntegerField()
    replans = serializers.IntegerField()
    error_code = serializers.CharField()
    error_detail = serializers.CharField()
    usage = serializers.SerializerMethodField()
    pending_approvals = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(UsageSerializer)
    def get_usage(self, run: Run) -> dict:
        return UsageSerializer(selectors.run_usage(run)).data

    @extend_schema_field(ApprovalOutputSerializer(many=True))
    def get_pending_approvals(self, run: Run) -> list[dict]:
        return ApprovalOutputSerializer(selectors.run_approvals_pending(run=run), many=True).data


class PostedSerializer(serializers.Serializer):
    message = MessageOutput()
    run = RunOutputSerializer()


class ConversationMessagesView(ChatMessagesView):
    """GET the history (chats/) and POST a message, which starts a run."""

    throttle_scope = "messages"

    class InputSerializer(serializers.Serializer):
        content = serializers.CharField(trim_whitespace=False, allow_blank=True)

        class Meta:
            ref_name = "MessagePostInput"

    @extend_schema(responses={200: MessageOutput(many=True), **ERRORS}, summary="Message history, newest first.")
    def get(self, request, pk):
        return super().get(request, pk)

    def get_throttles(self):
        if self.request.method == "POST":
            return [*super().get_throttles(), ScopedRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        request=InputSerializer,
        responses={
            202: PostedSerializer,
            400: OpenApiResponse(description="Bad content."),
            409: OpenApiResponse(description="A run of this conversation is in progress."),
            429: OpenApiResponse(description="Too many runs in progress or too many messages."),
            **ERRORS,
        },
        summary="Post a message; the agent run starts.",
    )
    def post(self, request, pk):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_get_for_view(user=request.user, conversation_id=pk)
        message, run = services.run_create(
            user=request.user, conversation=conversation, content=data.validated_data["content"]
        )
        return Response(PostedSerializer({"message": message, "run": run}).data, status=status.HTTP_202_ACCEPTED)


class RunDetailView(APIView):
    @extend_schema(responses={200: RunOutputSerializer, **ERRORS}, summary="Run state, pending approvals, usage.")
    def get(self, request, run_id):
        run = selectors.run_get_for_view(user=request.user, run_id=run_id)
        return Response(RunOutputSerializer(run).data)


class RunCancelView(APIView):
    @extend_schema(
        request=None,
        responses={202: RunOutputSerializer, 409: OpenApiResponse(description="Already finished."), **ERRORS},
        summary="Cancel a run: stops the LLM stream and the running command.",
    )
    def post(self, request, run_id):
        run = selectors.run_get_for_view(user=request.user, run_id=run_id)
        run = services.run_cancel(user=request.user, run=run)
        return Response(RunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ApprovalDecideView(APIView):
    class InputSerializer(serializers.Serializer):
        decision = serializers.ChoiceField(choices=["approve", "deny"])
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
        # The arguments the approver was shown: approving after someone else's edit is a 409, never a blind approve.
        args = serializers.JSONField(required=False, default=None)

        class Meta:
            ref_name = "ApprovalDecideInput"

    @extend_schema(
        request=InputSerializer,
        responses={
            200: ApprovalOutputSerializer,
            409: OpenApiResponse(
                description="Already decided, expired, the run is not waiting, or edited since `args` were shown."
            ),
            **ERRORS,
        },
        summary="Approve or deny a pending tool call; the run resumes.",
    )
    def post(self, request, approval_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = selectors.approval_get_for_view(user=request.user, approval_id=approval_id)
        source = getattr(request.auth, "decision_source", "browser")  # an approval token says "webhook"
        approval = services.approval_decide(user=request.user, approval=approval, source=source, **data.validated_data)
        return Response(ApprovalOutputSerializer(approval).data)


class ApprovalDetailView(APIView):
    class InputSerializer(serializers.Serializer):
        args = serializers.JSONField()

        class Meta:
            ref_name = "ApprovalEditInput"

    @extend_schema(
        request=InputSerializer,
        responses={
            200: ApprovalOutputSerializer,
            400: OpenApiResponse(description="The arguments do not fit the tool's schema or the connection's policy."),
            409: OpenApiResponse(description="Already decided, expired, or the run is not waiting."),
            503: OpenApiResponse(description="The cluster's tool server did not answer; nothing was changed."),
            **ERRORS,
        },
        summary="Edit a pending call's arguments before deciding it; the answer carries the new diff preview.",
    )
    def patch(self, request, approval_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = selectors.approval_get_for_view(user=request.user, approval_id=approval_id)
        approval = services.approval_edit(user=request.user, approval=approval, args=data.validated_data["args"])
        return Response(ApprovalOutputSerializer(approval).data)


class ToolCallUndoView(APIView):
    throttle_scope = "messages"

    def get_throttles(self):
        return [*super().get_throttles(), ScopedRateThrottle()]

    @extend_schema(
        request=None,
        responses={
            202: PostedSerializer,
            409: OpenApiResponse(description="No undo for this call, or one was already proposed."),
            429: OpenApiResponse(description="Too many runs in progress or too many messages."),
            **ERRORS,
        },
        summary="Undo an executed change: a new run proposes the restoring call, which waits for an approval.",
    )
    def post(self, request, run_id, call_id):
        run = selectors.run_get_for_view(user=request.user, run_id=run_id)
        message, run = services.tool_call_undo(user=request.user, run=run, call_id=call_id)
        return Response(PostedSerializer({"message": message, "run": run}).data, status=status.HTTP_202_ACCEPTED)
