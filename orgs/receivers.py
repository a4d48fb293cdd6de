"""Receivers of orgs' own signals."""

from django.dispatch import receiver

from orgs.services.accounts import refresh_tokens_revoke
from orgs.signals import user_password_changed


@receiver(user_password_changed, dispatch_uid="orgs.refresh_tokens_revoke")
def _password_changed(sender, user, **kwargs) -> None:
    # Access tokens carry a fingerprint of the password (SIMPLE_JWT CHECK_REVOKE_TOKEN) and die with it.
    refresh_tokens_revoke(user=user)
