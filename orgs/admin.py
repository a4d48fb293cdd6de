"""Django admin for staff. Changes made here are audited like their API counterparts and keep the API's rules
(an organisation keeps at least one owner; removing a member removes their team places and cluster grants);
the cluster token is write-only (never rendered), and the audit log is read-only."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from guardian.admin import GuardedModelAdmin

from orgs.models import AuditEvent, ClusterConnection, Invitation, Membership, Organization, Role, Team, User
from orgs.services import OWNER_RULE, LoginFailed, audit_record, login_attempt, membership_delete_with_access
from orgs.services.tool_server_address import tool_server_url_check
from skyflo.api_errors import TooManyRequests
from skyflo.client_ip import client_ip


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's sign-in goes through the same throttle and audit as the API's and the login page's."""

    def clean(self):
        email, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        try:
            self.user_cache = login_attempt(email=email, password=password, ip=client_ip(self.request), via="admin")
        except LoginFailed:
            raise self.get_invalid_login_error() from None
        except TooManyRequests as exc:
            raise ValidationError(str(exc.detail), code="throttled") from None
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


admin.site.login_form = AdminLoginForm


class AuditedAdmin(admin.ModelAdmin):
    """Records "<audit_domain>.created/updated/deleted" for saves and deletes made in the admin."""

    audit_domain = ""

    def _org(self, obj):
        return obj if isinstance(obj, Organization) else obj.org

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        data = {"changed": sorted(form.changed_data), "via": "admin"}
        action = f"{self.audit_domain}.{'updated' if change else 'created'}"
        audit_record(
            actor=request.user, org=self._org(obj), action=action, target=obj, data=data, ip=client_ip(request)
        )

    def delete_model(self, request, obj):
        self._audit_deleted(request, obj)
        super().delete_model(request, obj)

    def _audit_deleted(self, request, obj):
        audit_record(
            actor=request.user,
            org=self._org(obj),
            action=f"{self.audit_domain}.deleted",
            target=obj,
            data={"object": str(obj), "via": "admin"},
            ip=client_ip(request),
        )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        ("Status", {"fields": ["is_active", "is_staff", "is_superuser", "last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["last_login", "date_joined"]
    filter_horizontal = []
    list_filter = ["is_active", "is_staff"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        data = {"changed": sorted(form.changed_data), "via": "admin"}
        action = "user.updated" if change else "user.created"
        audit_record(actor=request.user, org=None, action=action, target=obj, data=data, ip=client_ip(request))

    def delete_model(self, request, obj):
        # People with conversations, runs or approvals are protected (deactivate them): the trail keeps its actors.
        data = {"email": obj.email, "via": "admin"}
        audit_record(actor=request.user, org=None, action="user.deleted", target=obj, data=data, ip=client_ip(request))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            self.delete_model(request, user)

    def user_change_password(self, request, id, form_url=""):  # noqa: A002 - Django's signature
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # saved; the reset itself ends the old tokens
            user = User.objects.filter(pk=id).first()
            data = {"via": "admin"}
            audit_record(
                actor=request.user,
                org=None,
                action="auth.password_reset",
                target=user,
                data=data,
                ip=client_ip(request),
            )
        return response


def _other_owner_exists(org_id, membership_pk) -> bool:
    return Membership.objects.filter(org_id=org_id, role=Role.OWNER).exclude(pk=membership_pk).exists()


def _is_last_owner(membership: Membership) -> bool:
    return membership.role == Role.OWNER and not _other_owner_exists(membership.org_id, membership.pk)


class MembershipForm(forms.ModelForm):
    """The API's rule in the admin: an organisation that has an owner keeps at least one."""

    class Meta:
        model = Membership
        fields = ["user", "org", "role"]

    def clean(self):
        cleaned = super().clean()
        before = self.instance
        if before._state.adding or before.role != Role.OWNER:
            return cleaned
        org = cleaned.get("org")
        stays_owner = cleaned.get("role") == Role.OWNER and org is not None and org.pk == before.org_id
        if not stays_owner and not _other_owner_exists(before.org_id, before.pk):
            raise ValidationError(OWNER_RULE)
        return cleaned


class MembershipInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors) or self.instance._state.adding:
            return
        if not Membership.objects.filter(org=self.instance, role=Role.OWNER).exists():
            return  # nothing to keep (an organisation created here without members yet)
        kept = [form.cleaned_data for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        if not any(data.get("role") == Role.OWNER for data in kept):
            raise ValidationError(OWNER_RULE)


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    formset = MembershipInlineFormSet
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    audit_domain = "org"
    list_display = ["name", "slug", "four_eyes", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    audit_domain = "member"
    form = MembershipForm
    list_display = ["user", "org", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "org__slug"]
    autocomplete_fields = ["user", "org"]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and _is_last_owner(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        self._audit_deleted(request, obj)
        membership_delete_with_access(obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("org", "user"):
            if _is_last_owner(membership):
                self.message_user(request, f"{membership}: {OWNER_RULE}", messages.ERROR)
                continue
            self.delete_model(request, membership)


class TeamForm(forms.ModelForm):
    members = forms.ModelMultipleChoiceField(queryset=User.objects.all(), required=False)

    class Meta:
        model = Team
        fields = ["org", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["members"].initial = self.instance.group.user_set.all()


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    audit_domain = "team"
    form = TeamForm
    list_display = ["name", "org", "created_at"]
    search_fields = ["name", "org__slug"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.group = Group.objects.create(name=f"team:{obj.org_id}:{obj.pk}")
        super().save_model(request, obj, form, change)
        obj.group.user_set.set(form.cleaned_data["members"])

    def delete_model(self, request, obj):
        group = obj.group
        super().delete_model(request, obj)
        group.delete()


@admin.register(Invitation)
class InvitationAdmin(AuditedAdmin):
    """Invitations are created in the app, where the one-time token can be shown; here they are read or revoked."""

    audit_domain = "invitation"
    list_display = ["email", "org", "role", "invited_by", "expires_at", "accepted_at"]
    list_filter = ["role"]
    search_fields = ["email", "org__slug"]
    readonly_fields = ["org", "email", "role", "teams", "invited_by", "accepted_at", "accepted_by", "created_at"]
    fields = [*readonly_fields, "expires_at"]

    def has_add_permission(self, request):
        return False


class ClusterForm(forms.ModelForm):
    mcp_server_url = forms.URLField(label="MCP server URL", max_length=500, assume_scheme="https")
    new_mcp_server_token = forms.CharField(
        label="MCP server token",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave empty to keep the stored token.",
    )
    clear_mcp_server_token = forms.BooleanField(label="Remove the stored token", required=False)

    class Meta:
        model = ClusterConnection
        fields = [
            "org",
            "name",
            "mcp_server_url",
            "default_namespace",
            "allowed_namespaces",
            "read_only",
            "is_sandbox",
        ]

    def clean(self):
        cleaned = super().clean()
        url, adding = cleaned.get("mcp_server_url"), self.instance._state.adding
        if url is None or (not adding and url == self.instance.mcp_server_url):
            return cleaned
        token_given = cleaned.get("new_mcp_server_token") or cleaned.get("clear_mcp_server_token")
        if not adding and not token_given:
            # The stored token must not follow the connection to another host.
            self.add_error("new_mcp_server_token", "Give the tool server's token again when you change its URL.")
        tool_server_url_check(url)
        return cleaned

    def save(self, commit=True):
        if self.cleaned_data.get("new_mcp_server_token"):
            self.instance.mcp_server_token = self.cleaned_data["new_mcp_server_token"]
        elif self.cleaned_data.get("clear_mcp_server_token"):
            self.instance.mcp_server_token = ""
        return super().save(commit=commit)


@admin.register(ClusterConnection)
class ClusterConnectionAdmin(AuditedAdmin, GuardedModelAdmin):
    """Clusters with guardian's object-permission pages (use_cluster / operate_cluster per user or team group)."""

    audit_domain = "cluster"
    form = ClusterForm
    list_display = ["name", "org", "mcp_server_url", "has_token", "read_only", "is_sandbox"]
    list_filter = ["read_only", "is_sandbox"]
    search_fields = ["name", "org__slug"]
    readonly_fields = ["has_token", "created_at", "updated_at"]

    @admin.display(boolean=True, description="token set")
    def has_token(self, obj) -> bool:
        return bool(obj.mcp_token_encrypted)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, so staff may look but not add, change or delete."""

    list_display = ["created_at", "action", "actor_email", "org_slug", "target_type", "target_id", "client_ip"]
    list_filter = ["action"]
    search_fields = ["actor_email", "org_slug", "action", "target_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
