"""Admin: see and remove connections (secrets never shown; they are set on the Integrations settings page)."""

from django.contrib import admin

from integrations.models import SlackClusterChannel, SlackConnection, SlackMessage, WebhookConnection
from orgs.admin import AuditedAdmin


class SlackClusterChannelInline(admin.TabularInline):
    model = SlackClusterChannel
    extra = 0


@admin.register(SlackConnection)
class SlackConnectionAdmin(AuditedAdmin):
    audit_domain = "slack_connection"
    list_display = ["org", "channel", "updated_at"]
    readonly_fields = ["org", "id", "updated_at"]
    fields = ["org", "id", "channel", "updated_at"]
    inlines = [SlackClusterChannelInline]

    def has_add_permission(self, request) -> bool:
        return False  # needs the secrets: the settings page or the API


@admin.register(WebhookConnection)
class WebhookConnectionAdmin(AuditedAdmin):
    audit_domain = "webhook_connection"
    list_display = ["org", "url", "acts_as", "updated_at"]
    readonly_fields = ["org", "acts_as", "updated_at"]
    fields = ["org", "url", "acts_as", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SlackMessage)
class SlackMessageAdmin(admin.ModelAdmin):
    list_display = ["approval", "channel", "ts", "shown", "posted_at", "updated_at"]
    readonly_fields = list_display

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
