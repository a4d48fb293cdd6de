"""The insights API: figures, budgets, token prices, insights sharing, the audit export. Views parse, call, render."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from insights import audit_export, budgets, selectors
from orgs import pricing
from orgs.api.common import OrgView
from orgs.models import Role, Team
from orgs.selectors import membership_require
from orgs.services import budgets as budget_services

PERIOD = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (UTC), included; default 29 days before `to`."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC), included; default today."),
]


def _period(request) -> selectors.Period:
    return selectors.period_parse(request.query_params.get("from"), request.query_params.get("to"))


class TotalsOutput(serializers.Serializer):
    runs = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    cost_usd = serializers.CharField(help_text="USD, 6 decimals")


class UsageRowOutput(TotalsOutput):
    key = serializers.CharField(allow_null=True, help_text="The team's, person's or cluster's id")
    label = serializers.CharField()


class DayOutput(serializers.Serializer):
    day = serializers.DateField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    denied = serializers.IntegerField()
    in_progress = serializers.IntegerField()


class PercentilesOutput(serializers.Serializer):
    count = serializers.IntegerField()
    p50 = serializers.IntegerField(allow_null=True, help_text="ms")
    p95 = serializers.IntegerField(allow_null=True, help_text="ms")


class ApprovalsOutput(serializers.Serializer):
    by_decision = serializers.DictField(child=serializers.IntegerField())
    time_to_decision_ms = PercentilesOutput()


class UsageOutput(serializers.Serializer):
    team = UsageRowOutput(many=True, required=False)
    user = UsageRowOutput(many=True, required=False)
    cluster = UsageRowOutput(many=True, required=False)


class ToolOutput(serializers.Serializer):
    tool = serializers.CharField()
    calls = serializers.IntegerField()


class ErrorCodeOutput(serializers.Serializer):
    code = serializers.CharField()
    runs = serializers.IntegerField()


class InsightsOutput(serializers.Serializer):
    org = serializers.CharField()
    totals = TotalsOutput()
    runs_per_day = DayOutput(many=True)
    time_to_first_token_ms = PercentilesOutput()
    duration_ms = PercentilesOutput()
    approvals = ApprovalsOutput()
    usage = UsageOutput()
    tools = ToolOutput(many=True)
    errors = ErrorCodeOutput(many=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField()
        fields["to"] = serializers.DateField()
        return fields


class InsightsView(OrgView):
    @extend_schema(
        parameters=[
            *PERIOD,
            OpenApiParameter(
                "group_by", str, description="team, user and/or cluster (comma-separated) for `usage`; default all."
            ),
        ],
        responses={200: InsightsOutput},
        tags=["insights"],
        summary="Runs per day by status, latencies, approvals, tokens and cost per team/user/cluster, tools, errors.",
    )
    def get(self, request, slug):
        group_by = tuple(g for g in (request.query_params.get("group_by") or "").split(",") if g) or selectors.GROUPS
        if any(group not in selectors.GROUPS for group in group_by):
            raise ValidationError({"group_by": f"Any of {', '.join(selectors.GROUPS)}."})
        figures = selectors.insights_get(
            user=request.user, org=self.get_org(), period=_period(request), group_by=group_by
        )
        return Response(figures)


class BudgetOutput(serializers.Serializer):
    id = serializers.UUIDField(source="budget.id")
    team = serializers.UUIDField(source="budget.team_id", allow_null=True)
    team_name = serializers.SerializerMethodField()
    kind = serializers.CharField(source="budget.kind")
    monthly_limit = serializers.DecimalField(source="budget.monthly_limit", max_digits=18, decimal_places=6)
    spent = serializers.DecimalField(max_digits=18, decimal_places=6)
    percent = serializers.IntegerField()
    warning = serializers.BooleanField()
    reached = serializers.BooleanField()

    def get_team_name(self, state) -> str | None:
        return state.budget.team.name if state.budget.team_id else None


class BudgetListView(OrgView):
    class InputSerializer(serializers.Serializer):
        team = serializers.UUIDField(required=False, allow_null=True, default=None)
        kind = serializers.ChoiceField(choices=["tokens", "cost"])
        monthly_limit = serializers.DecimalField(max_digits=18, decimal_places=6)

        class Meta:
            ref_name = "BudgetInput"

    @extend_schema(responses={200: BudgetOutput(many=True)}, tags=["insights"], summary="Budgets, spend.")
    def get(self, request, slug):
        org = self.get_org()
        membership_require(user=request.user, org=org, role=Role.ADMIN)
        return Response({"results": BudgetOutput(budgets.budget_states(org=org), many=True).data})

    @extend_schema(request=InputSerializer, responses={200: BudgetOutput}, tags=["insights"])
    def put(self, request, slug):
        """Set the organisation's (no team) or a team's monthly budget, in tokens or USD."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org, team_id = self.get_org(), data.validated_data["team"]
        membership_require(user=request.user, org=org, role=Role.ADMIN)
        team = get_object_or_404(Team, org=org, pk=team_id) if team_id else None
        budget = budget_services.budget_set(
            actor=request.user,
            org=org,
            team=team,
            kind=data.validated_data["kind"],
            monthly_limit=data.validated_data["monthly_limit"],
            ip=self.ip,
        )
        state = budgets.BudgetState(budget, budgets.budget_spent(budget))
        return Response(BudgetOutput(state).data)


class BudgetDetailView(OrgView):
    @extend_schema(responses={204: None}, tags=["insights"], summary="Remove a budget.")
    def delete(self, request, slug, budget_id):
        budget_services.budget_delete(actor=request.user, org=self.get_org(), budget_id=budget_id, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PriceOutput(serializers.Serializer):
    model = serializers.CharField()
    source = serializers.ChoiceField(choices=["default", "operator", "organisation"])
    input_per_mtok = serializers.DecimalField(max_digits=12, decimal_places=6)
    cached_input_per_mtok = serializers.DecimalField(max_digits=12, decimal_places=6)
    output_per_mtok = serializers.DecimalField(max_digits=12, decimal_places=6)


class PriceListView(OrgView):
    class InputSerializer(serializers.Serializer):
        model = serializers.CharField(max_length=200)
        input_per_mtok = serializers.DecimalField(max_digits=12, decimal_places=6, min_value=0)
        cached_input_per_mtok = serializers.DecimalField(
            max_digits=12, decimal_places=6, min_value=0, required=False, allow_null=True, default=None
        )
        output_per_mtok = serializers.DecimalField(max_digits=12, decimal_places=6, min_value=0)

        class Meta:
            ref_name = "ModelPriceInput"

    @extend_schema(responses={200: PriceOutput(many=True)}, tags=["insights"], summary="Token prices.")
    def get(self, request, slug):
        org = self.get_org()
        membership_require(user=request.user, org=org, role=Role.ADMIN)
        return Response({"results": PriceOutput(pricing.price_table(org=org), many=True).data})

    @extend_schema(request=InputSerializer, responses={200: PriceOutput(many=True)}, tags=["insights"])
    def put(self, request, slug):
        """Set the organisation's prices (USD per 1M tokens) for one model; they apply to its next usage."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = self.get_org()
        budget_services.model_price_set(actor=request.user, org=org, ip=self.ip, **data.validated_data)
        return Response({"results": PriceOutput(pricing.price_table(org=org), many=True).data})


class PriceDetailView(OrgView):
    @extend_schema(responses={204: None}, tags=["insights"], summary="Back to the default price.")
    def delete(self, request, slug, model):
        budget_services.model_price_delete(actor=request.user, org=self.get_org(), model=model, ip=self.ip)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InsightsShareView(OrgView):
    class InputSerializer(serializers.Serializer):
        shared = serializers.BooleanField()

        class Meta:
            ref_name = "InsightsShareInput"

    @extend_schema(request=InputSerializer, responses={204: None}, tags=["insights"])
    def put(self, request, slug, team_id):
        """Let this team's members see the organisation's insights (or stop)."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = self.get_org()
        membership_require(user=request.user, org=org, role=Role.ADMIN)
        team = get_object_or_404(Team, org=org, pk=team_id)
        budget_services.insights_share(
            actor=request.user, org=org, team=team, shared=data.validated_data["shared"], ip=self.ip
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _streamed(request, lines: Iterator[str]):
    """Under ASGI, Django would read a sync iterator whole into a list before sending it: there, hand it over as an
    async iterator that pulls a batch of lines at a time on the request's own database thread."""
    if not isinstance(request._request, ASGIRequest):
        return lines

    async def batches():
        while batch := await sync_to_async(_take)(lines):
            yield "".join(batch)

    return batches()


def _take(lines: Iterator[str], count: int = 500) -> list[str]:
    return list(islice(lines, count))


EXPORTS = {
    "csv": (audit_export.csv_lines, "text/csv; charset=utf-8", "csv"),
    "jsonl": (audit_export.jsonl_lines, "application/x-ndjson", "jsonl"),
}


class AuditRowOutput(serializers.Serializer):
    """One exported event (a JSON line; the CSV has the same columns, `args` and `data` as JSON)."""

    time = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.EmailField(allow_null=True)
    client_ip = serializers.IPAddressField(allow_null=True)
    asked_by = serializers.EmailField(allow_null=True)
    decided_by = serializers.EmailField(allow_null=True)
    decision = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    tool = serializers.CharField(allow_null=True)
    args = serializers.JSONField(allow_null=True)
    cluster = serializers.CharField(allow_null=True)
    namespace = serializers.CharField(allow_null=True)
    run = serializers.UUIDField(allow_null=True)
    conversation = serializers.UUIDField(allow_null=True)
    target_type = serializers.CharField(allow_null=True)
    target_id = serializers.CharField(allow_null=True)
    data = serializers.JSONField()


class AuditExportView(OrgView):
    @extend_schema(
        parameters=[
            *PERIOD,
            OpenApiParameter("output", str, enum=list(EXPORTS), description="csv (default) or jsonl."),
        ],
        responses={(200, "application/x-ndjson"): AuditRowOutput, (200, "text/csv"): OpenApiTypes.STR},
        tags=["audit"],
        summary="The audit log of a period as CSV or JSON lines, streamed (admin+).",
    )
    def get(self, request, slug):
        output = request.query_params.get("output") or "csv"
        if output not in EXPORTS:
            raise ValidationError({"output": "csv or jsonl."})
        org, period = self.get_org(), _period(request)
        rows = audit_export.audit_export_rows(user=request.user, org=org, period=period)
        lines, content_type, extension = EXPORTS[output]
        response = StreamingHttpResponse(_streamed(request, lines(rows)), content_type=content_type)
        name = f"skyflo-audit-{org.slug}-{period.start}-{period.end}.{extension}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
