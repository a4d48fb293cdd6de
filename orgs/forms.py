"""Browser forms for the sign-in, setup, invitation, profile and org settings pages (parsing only; services write)."""

from django import forms

from orgs.models import ClusterConnection, Role


def _names(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


class LoginForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class SetupForm(forms.Form):
    org_name = forms.CharField(label="Organisation name", max_length=100)
    full_name = forms.CharField(label="Your name", max_length=150)
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), help_text="At least 10 characters."
    )


class SignupForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=150)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), help_text="At least 10 characters."
    )


class SigninForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class ProfileForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=150, required=False)


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), help_text="At least 10 characters."
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=100)


class TeamMemberForm(forms.Form):
    user = forms.UUIDField()


class ClusterForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '-'.")
    mcp_server_url = forms.URLField(label="Tool server URL", max_length=500, assume_scheme="https")
    mcp_server_token = forms.CharField(label="Tool server token", required=False, widget=forms.PasswordInput)
    default_namespace = forms.CharField(max_length=63, initial="default")
    allowed_namespaces = forms.CharField(required=False, help_text="Comma-separated; empty allows all.")
    read_only = forms.BooleanField(required=False, label="Read-only (no changes allowed)")
    kind = forms.ChoiceField(
        label="Server kind",
        choices=ClusterConnection.Kind.choices,
        required=False,
        initial=ClusterConnection.Kind.SKYFLO,
    )
    tool_allow = forms.CharField(
        label="Allowed tools", required=False, help_text="Comma-separated tool names; empty offers every tool."
    )
    tool_deny = forms.CharField(
        label="Denied tools", required=False, help_text="Comma-separated; never offered to the model."
    )
    impersonate = forms.BooleanField(
        required=False, label="Act as the person", help_text="Each call runs as the asker's Kubernetes identity."
    )
    impersonation_key = forms.CharField(
        label="Tool server's key",
        required=False,
        widget=forms.PasswordInput,
        help_text="The tool server's MCP_IMPERSONATION_KEY (needed to act as the person).",
    )
    impersonation_user = forms.CharField(
        label="Kubernetes user",
        max_length=200,
        required=False,
        initial="{email}",
        help_text="Placeholders {email}, {id}.",
    )
    impersonation_group = forms.CharField(
        label="Group per team",
        max_length=200,
        required=False,
        initial="skyflo:team:{team}",
        help_text="Placeholder {team} (the team's slug); empty for none.",
    )

    def clean_allowed_namespaces(self) -> list[str]:
        return _names(self.cleaned_data["allowed_namespaces"])

    def clean_kind(self) -> str:
        return self.cleaned_data["kind"] or ClusterConnection.Kind.SKYFLO

    def clean_impersonation_user(self) -> str:
        return self.cleaned_data["impersonation_user"] or "{email}"

    def clean_impersonation_group(self) -> str:
        # Absent from the form (a scripted post): the default; sent empty: no team groups.
        return self.cleaned_data["impersonation_group"] if "impersonation_group" in self.data else "skyflo:team:{team}"

    def clean_tool_allow(self) -> list[str]:
        return _names(self.cleaned_data["tool_allow"])

    def clean_tool_deny(self) -> list[str]:
        return _names(self.cleaned_data["tool_deny"])


class ClusterToolListsForm(forms.Form):
    tool_allow = forms.CharField(required=False)
    tool_deny = forms.CharField(required=False)

    def clean_tool_allow(self) -> list[str]:
        return _names(self.cleaned_data["tool_allow"])

    def clean_tool_deny(self) -> list[str]:
        return _names(self.cleaned_data["tool_deny"])


class ClusterIdentityForm(forms.Form):
    impersonate = forms.BooleanField(required=False)
    impersonation_user = forms.CharField(max_length=200)
    impersonation_group = forms.CharField(max_length=200, required=False)
    impersonation_key = forms.CharField(required=False, max_length=512, strip=False)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("impersonation_key"):
            data.pop("impersonation_key", None)  # empty keeps the stored key
        return data


class GrantForm(forms.Form):
    holder = forms.CharField(help_text="team:<id> or user:<id>")
    permission = forms.ChoiceField(choices=[("use_cluster", "Use (read-only)"), ("operate_cluster", "Operate")])


class ModelConnectionForm(forms.Form):
    base_url = forms.URLField(
        label="Base URL",
        max_length=500,
        assume_scheme="https",
        help_text="Any OpenAI-compatible endpoint, e.g. "
        "https://api.openai.com/v1, https://NAME.openai.azure.com, http://ollama:11434/v1.",
    )
    model = forms.CharField(label="Model", max_length=200, help_text="The model name (Azure: the deployment name).")
    api_key = forms.CharField(
        label="API key", required=False, widget=forms.PasswordInput, help_text="Leave empty to keep the stored key."
    )
    api_version = forms.CharField(label="API version", required=False, max_length=40, help_text="Azure OpenAI only.")

    def clean_api_key(self) -> str | None:
        return self.cleaned_data["api_key"] or None
