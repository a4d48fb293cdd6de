"""/orgs/{slug}/integrations/slack/ and …/webhook/ (admins and owners; secrets are write-only) and the Slack
interactivity endpoint, which Slack calls when a button of an approval message is pressed."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from slack_sdk.signature import SignatureVerifier

from integrations import selectors, services, tasks
from integrations.models import SlackConnection
from orgs.api.common import OrgView, UserBriefOutput

logger = logging.getLogger(__name__)


class ClusterChannel(serializers.Serializer):
    cluster = serializers.UUIDField()
    channel = serializers.CharField(max_length=81)


class SlackConnectionOutput(serializers.Serializer):
    connected = serializers.BooleanField()
    channel = serializers.CharField(allow_null=True)
    cluster_channels = ClusterChannel(many=True)
    has_bot_token = serializers.BooleanField()
    has_signing_secret = serializers.BooleanField()
    interactivity_url = serializers.CharField(allow_null=True, help_text="Slack app → Interactivity → Request URL")
    updated_at = serializers.DateTimeField(allow_null=True)


class SlackConnectionInput(serializers.Serializer):
    channel = serializers.CharField(max_length=81)
    bot_token = serializers.CharField(write_only=True, required=False, trim_whitespace=True, max_length=500)
    signing_secret = serializers.CharField(write_only=True, required=False, trim_whitespace=True, max_length=200)
    cluster_channels = ClusterChannel(many=True, required=False)


def slack_output(request, connection: SlackConnection | None) -> dict:
    if connection is None:
        return {"connected": False, "channel": None, "cluster_channels": [], "has_bot_token": False,
                "has_signing_secret": False, "interactivity_url": None, "updated_at": None}  # fmt: skip
    path = reverse("slack-interactions", kwargs={"connection_id": connection.id})
    return {
        "connected": True,
        "channel": connection.channel,
        "cluster_channels": [
            {"cluster": c.cluster_id, "channel": c.channel} for c in connection.cluster_channels.all()
        ],
        "has_bot_token": bool(connection.bot_token_encrypted),
        "has_signing_secret": bool(connection.signing_secret_encrypted),
        "interactivity_url": request.build_absolute_uri(path),
        "updated_at": connection.updated_at,
    }


class SlackConnectionView(OrgView):
    @extend_schema(responses={200: SlackConnectionOutput}, tags=["integrations"], summary="The org's Slack app.")
    def get(self, request, slug):
        connection = selectors.slack_connection_get(user=request.user, org=self.get_org())
        return Response(SlackConnectionOutput(slack_output(request, connection)).data)

    @extend_schema(request=SlackConnectionInput, responses={200: SlackConnectionOutput}, tags=["integrations"])
    def put(self, request, slug):
        data = SlackConnectionInput(data=request.data)
        data.is_valid(raise_exception=True)
        connection = services.slack_connection_set(
            actor=request.user, org=self.get_org(), ip=self.ip, **data.validated_data
        )
        return Response(SlackConnectionOutput(slack_output(request, connection)).data)

    @extend_schema(responses={204: None}, tags=["integrations"])
    def delete(self, request, slug):
        services.slack_connection_delete(actor=request.user, org=self.get_org(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookConnectionOutput(serializers.Serializer):
    connected = serializers.BooleanField()
    url = serializers.URLField(allow_null=True)
    has_secret = serializers.BooleanField()
    acts_as = UserBriefOutput(allow_null=True, help_text="whose decisions the webhook's tokens make")
    updated_at = serializers.DateTimeField(allow_null=True)


class WebhookConnectionInput(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    secret = serializers.CharField(write_only=True, required=False, trim_whitespace=False, max_length=500)


def webhook_output(connection) -> dict:
    if connection is None:
        return {"connected": False, "url": None, "has_secret": False, "acts_as": None, "updated_at": None}
    return {
        "connected": True,
        "url": connection.url,
        "has_secret": bool(connection.secret_encrypted),
        "acts_as": connection.acts_as,
        "updated_at": connection.updated_at,
    }


class WebhookConnectionView(OrgView):
    @extend_schema(responses={200: WebhookConnectionOutput}, tags=["integrations"], summary="The org's webhook.")
    def get(self, request, slug):
        connection = selectors.webhook_connection_get(user=request.user, org=self.get_org())
        return Response(WebhookConnectionOutput(webhook_output(connection)).data)

    @extend_schema(request=WebhookConnectionInput, responses={200: WebhookConnectionOutput}, tags=["integrations"])
    def put(self, request, slug):
        data = WebhookConnectionInput(data=request.data)
        data.is_valid(raise_exception=True)
        connection = services.webhook_connection_set(
            actor=request.user, org=self.get_org(), ip=self.ip, **data.validated_data
        )
        return Response(WebhookConnectionOutput(webhook_output(connection)).data)

    @extend_schema(responses={204: None}, tags=["integrations"])
    def delete(self, request, slug):
        services.webhook_connection_delete(actor=request.user, org=self.get_org(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SlackInteractionsView(APIView):
    """Slack's interactivity requests. No session or token: the request is Slack's if its v0 signature with the
    org's signing secret matches, its timestamp is within 5 minutes and it was not seen before; else 401 and
    nothing happens. The person's answer goes back as an ephemeral message (Slack ignores this response's body)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=None,
        responses={
            200: None,
            401: OpenApiResponse(description="Not signed by the org's Slack app, stale, or replayed."),
        },
        tags=["integrations"],
        summary="Slack interactivity (button presses on approval messages).",
    )
    def post(self, request, connection_id):
        body = request.body
        connection = SlackConnection.objects.select_related("org").filter(id=connection_id).first()
        refusal = _signature_refusal(connection, request, body)
        if refusal:
            logger.warning("Slack interactivity request refused: %s", refusal)
            return Response({"detail": refusal}, status=status.HTTP_401_UNAUTHORIZED)
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
        except (KeyError, ValueError, UnicodeDecodeError):
            return Response({"detail": "Expected a form with a JSON `payload`."}, status=status.HTTP_400_BAD_REQUEST)
        reply = services.slack_action_decide(connection=connection, payload=payload)
        if reply is not None:
            tasks.task_dispatch(
                tasks.slack_ephemeral_send, str(connection.org_id), reply.channel, reply.user, reply.text
            )
        return Response(status=status.HTTP_200_OK)


def _signature_refusal(connection, request, body: bytes) -> str:
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if connection is None or not timestamp.isdigit() or not signature:
        return "Not a signed Slack request."
    if not SignatureVerifier(connection.signing_secret).is_valid(body=body, timestamp=timestamp, signature=signature):
        return "The signature does not match, or the request is older than 5 minutes."
    if not services.slack_request_admit(signature=signature):
        return "This request was already taken (a replay)."
    return ""
