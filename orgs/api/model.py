"""/orgs/{slug}/model/: the organisation's model connection (admin+). The API key is write-only."""

from asgiref.sync import async_to_sync
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from orgs import services
from orgs.api.common import OrgView
from orgs.selectors import model_connection_get, model_endpoint

TEST_TIMEOUT_S = 15.0


class ModelConnectionOutput(serializers.Serializer):
    """`source` says whose model the org's runs use: its own ("organisation") or the environment's default."""

    source = serializers.ChoiceField(choices=["organisation", "environment"])
    base_url = serializers.CharField(allow_null=True, help_text="null for the environment's (not shown)")
    model = serializers.CharField(allow_null=True)
    api_version = serializers.CharField(allow_null=True)
    has_api_key = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)


class ModelConnectionInput(serializers.Serializer):
    base_url = serializers.URLField(max_length=500)
    model = serializers.CharField(max_length=200)
    api_key = serializers.CharField(write_only=True, required=False, trim_whitespace=False, max_length=4000)
    api_version = serializers.CharField(max_length=40, required=False, allow_blank=True)


class ModelTestInput(serializers.Serializer):
    """Values to test before saving them; without them the stored connection (or the environment's) is tested.
    The stored key is used only for the stored address."""

    base_url = serializers.URLField(max_length=500, required=False)
    model = serializers.CharField(max_length=200, required=False)
    api_key = serializers.CharField(write_only=True, required=False, trim_whitespace=False, max_length=4000)
    api_version = serializers.CharField(max_length=40, required=False, allow_blank=True)


class ModelTestOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    streaming = serializers.BooleanField()
    tools = serializers.BooleanField()
    json_schema = serializers.BooleanField()
    detail = serializers.CharField()


def connection_output(connection) -> dict:
    if connection is None:
        return {
            "source": "environment",
            "base_url": None,
            "model": settings.LLM_MODEL,
            "api_version": None,
            "has_api_key": bool(settings.LLM_API_KEY),
            "updated_at": None,
        }
    return {
        "source": "organisation",
        "base_url": connection.base_url,
        "model": connection.model,
        "api_version": connection.api_version or None,
        "has_api_key": bool(connection.api_key_encrypted),
        "updated_at": connection.updated_at,
    }


class ModelConnectionView(OrgView):
    @extend_schema(responses={200: ModelConnectionOutput}, tags=["orgs"])
    def get(self, request, slug):
        connection = model_connection_get(user=request.user, org=self.get_org())
        return Response(ModelConnectionOutput(connection_output(connection)).data)

    @extend_schema(request=ModelConnectionInput, responses={200: ModelConnectionOutput}, tags=["orgs"])
    def put(self, request, slug):
        data = ModelConnectionInput(data=request.data)
        data.is_valid(raise_exception=True)
        connection = services.model_connection_set(
            actor=request.user, org=self.get_org(), ip=self.ip, **data.validated_data
        )
        return Response(ModelConnectionOutput(connection_output(connection)).data)

    @extend_schema(responses={204: None}, tags=["orgs"])
    def delete(self, request, slug):
        services.model_connection_delete(actor=request.user, org=self.get_org(), ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelConnectionTestView(OrgView):
    @extend_schema(request=ModelTestInput, responses={200: ModelTestOutput}, tags=["orgs"])
    def post(self, request, slug):
        """One tiny request to the org's model (or the environment's): what the endpoint supports."""
        data = ModelTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        connection = model_connection_get(user=request.user, org=self.get_org())
        endpoint = model_endpoint_tried(model_endpoint(connection), data.validated_data)
        return Response(ModelTestOutput(async_to_sync(model_probe)(endpoint)).data)


def model_endpoint_tried(stored: dict, given: dict) -> dict:
    """`stored` with the values given to try; a new address never gets the stored key."""
    if not given:
        return stored
    moved = given.get("base_url", stored["base_url"]) != stored["base_url"]
    key = given.get("api_key") or (None if moved else stored["api_key"]) or "none"
    tried = {k: v for k, v in stored.items() if k in ("base_url", "model", "api_version")} | given
    return tried | {"api_key": key, "api_version": tried.get("api_version") or None}


async def model_probe(endpoint: dict) -> dict:
    from agents.llm import LLMClient
    from agents.probe import endpoint_probe

    client = LLMClient(**endpoint, timeout=TEST_TIMEOUT_S, max_retries=0)
    try:
        return await endpoint_probe(client)
    finally:
        await client.aclose()
