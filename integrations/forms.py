from django import forms

from integrations.models import slack_channel


class SlackConnectionForm(forms.Form):
    channel = forms.CharField(
        label="Channel", max_length=81, validators=[slack_channel],
        help_text="Where approval requests are posted: a channel ID (C0123ABC) or #name. Invite the app there.",
    )  # fmt: skip
    bot_token = forms.CharField(
        label="Bot token", required=False, widget=forms.PasswordInput, help_text="xoxb-…; empty keeps the stored one."
    )
    signing_secret = forms.CharField(
        label="Signing secret", required=False, widget=forms.PasswordInput, help_text="Empty keeps the stored one."
    )

    def __init__(self, *args, clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.clusters = list(clusters)
        for cluster in self.clusters:
            self.fields[f"cluster_{cluster.pk}"] = forms.CharField(
                label=f"Channel for {cluster.name}", required=False, max_length=81, validators=[slack_channel],
                help_text="Optional: this cluster's approval requests go here instead.",
            )  # fmt: skip

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        channels = [
            {"cluster": c.pk, "channel": data[f"cluster_{c.pk}"]} for c in self.clusters if data[f"cluster_{c.pk}"]
        ]
        return {
            "channel": data["channel"],
            "bot_token": data["bot_token"] or None,
            "signing_secret": data["signing_secret"] or None,
            "cluster_channels": channels,
        }


class WebhookConnectionForm(forms.Form):
    url = forms.URLField(
        label="URL", max_length=500, assume_scheme="https", help_text="Approval requests are POSTed here."
    )
    secret = forms.CharField(
        label="Secret", required=False, widget=forms.PasswordInput,
        help_text="At least 16 characters; the receiver checks X-Skyflo-Signature with it. Empty keeps the stored one.",
    )  # fmt: skip

    def service_arguments(self) -> dict:
        return {"url": self.cleaned_data["url"], "secret": self.cleaned_data["secret"] or None}
