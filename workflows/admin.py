"""Admin: runs, approvals and the tool-call ledger are records of what happened, so they are read-only here;
decisions and cancels go through the API (services), never through an admin form."""

from django.contrib import admin

from workflows.models import Approval, Run, ToolCall


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    fields = ["tool", "call_id", "decision", "requested_by", "decided_by", "reason", "expires_at", "decided_at"]
    readonly_fields = fields
    can_delete = False


class ToolCallInline(admin.TabularInline):
    model = ToolCall
    extra = 0
    fields = ["call_id", "tool", "mutating", "state", "started_at", "finished_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = ["id", "conversation", "requested_by", "status", "attempt", "replans", "worker", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "conversation__title", "requested_by__email"]
    list_select_related = ["conversation", "requested_by"]
    inlines = [ApprovalInline, ToolCallInline]


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["id", "tool", "decision", "requested_by", "decided_by", "expires_at"]
    list_filter = ["decision", "tool"]
    list_select_related = ["requested_by", "decided_by"]


@admin.register(ToolCall)
class ToolCallAdmin(ReadOnlyAdmin):
    list_display = ["call_id", "run", "tool", "mutating", "state", "started_at"]
    list_filter = ["state", "mutating", "tool"]
