"""The Integrations tab of the organisation's settings (admins and owners): Slack and the webhook."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from integrations import forms, selectors, services
from orgs.models import ClusterConnection, Role
from orgs.selectors import membership_require, org_get
from orgs.views import nav_context
from skyflo.client_ip import client_ip


@login_required
def settings_integrations_view(request: HttpRequest, slug: str) -> HttpResponse:
    org = org_get(user=request.user, slug=slug)
    membership_require(user=request.user, org=org, role=Role.ADMIN)
    slack = selectors.slack_connection_get(user=request.user, org=org)
    webhook = selectors.webhook_connection_get(user=request.user, org=org)
    action = request.POST.get("action")
    slack_form = forms.SlackConnectionForm(
        request.POST if action == "slack-save" else None,
        clusters=ClusterConnection.objects.filter(org=org).order_by("name"),
        initial=_slack_initial(slack),
        prefix="slack",
    )
    webhook_form = forms.WebhookConnectionForm(
        request.POST if action == "webhook-save" else None,
        initial={"url": webhook.url} if webhook else {},
        prefix="webhook",
    )
    saved = _act(request, org, action, slack_form, webhook_form)
    if saved:
        messages.success(request, saved)
        return redirect("org-settings-integrations", slug=org.slug)
    interactivity = slack and request.build_absolute_uri(reverse("slack-interactions", args=[slack.id]))
    context = {"slack": slack, "webhook": webhook, "slack_form": slack_form, "webhook_form": webhook_form,
               "interactivity_url": interactivity}  # fmt: skip
    base = {"org": org, "tab": "integrations", "nav": "settings", **nav_context(request, org)}
    return render(request, "integrations/settings.html", {**base, **context})


def _slack_initial(slack) -> dict:
    if slack is None:
        return {}
    return {"channel": slack.channel} | {f"cluster_{c.cluster_id}": c.channel for c in slack.cluster_channels.all()}


def _act(request, org, action, slack_form, webhook_form) -> str:
    """Run the posted action; the success message, or "" (errors are on the form)."""
    ip, actor = client_ip(request), request.user
    if action == "slack-remove":
        services.slack_connection_delete(actor=actor, org=org, ip=ip)
        return "Slack disconnected."
    if action == "webhook-remove":
        services.webhook_connection_delete(actor=actor, org=org, ip=ip)
        return "Webhook removed."
    form, save, done = {
        "slack-save": (slack_form, services.slack_connection_set, "Slack connection saved."),
        "webhook-save": (webhook_form, services.webhook_connection_set, "Webhook saved."),
    }.get(action, (None, None, ""))
    if form is None or not form.is_valid():
        return ""
    try:
        save(actor=actor, org=org, ip=ip, **form.service_arguments())
    except ValidationError as exc:
        for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
            form.add_error(field if field in form.fields else None, errors)
        return ""
    return done
