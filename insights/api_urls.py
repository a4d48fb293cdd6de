from django.urls import path

from insights import api

ORG = "orgs/<slug:slug>/"

urlpatterns = [
    path(ORG + "insights/", api.InsightsView.as_view(), name="insights"),
    path(ORG + "budgets/", api.BudgetListView.as_view(), name="budget-list"),
    path(ORG + "budgets/<uuid:budget_id>/", api.BudgetDetailView.as_view(), name="budget-detail"),
    path(ORG + "prices/", api.PriceListView.as_view(), name="price-list"),
    path(ORG + "prices/<path:model>/", api.PriceDetailView.as_view(), name="price-detail"),
    path(ORG + "teams/<uuid:team_id>/insights-access/", api.InsightsShareView.as_view(), name="insights-share"),
    path(ORG + "audit/export/", api.AuditExportView.as_view(), name="audit-export"),
]
