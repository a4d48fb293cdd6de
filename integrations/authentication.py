"""`Authorization: Approval <token>`: the webhook's way back in, good for one approval's decide endpoint only."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from integrations.tokens import ApprovalTokenAuth, TokenRefused, approval_token_user

KEYWORD = b"approval"
DECIDE_ROUTE = "approval-decide"


class ApprovalTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give one approval token after 'Approval'.")
        match = request._request.resolver_match
        if match is None or match.url_name != DECIDE_ROUTE:
            raise exceptions.AuthenticationFailed("An approval token only decides its own approval.")
        approval_id = str(match.kwargs["approval_id"])
        try:
            user = approval_token_user(token=header[1].decode("ascii", "replace"), approval_id=approval_id)
        except TokenRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return user, ApprovalTokenAuth(approval_id=approval_id)

    def authenticate_header(self, request) -> str:
        return 'Approval realm="api"'


class ApprovalTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of approval tokens (accepted by POST /approvals/{id}/decide/ only)."""

    target_class = "integrations.authentication.ApprovalTokenAuthentication"
    name = "approvalToken"

    def get_security_requirement(self, auto_schema):
        # Listed on the decide endpoint only: everywhere else the token is refused.
        return {self.name: []} if auto_schema.path.endswith("/decide/") else None

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Approval <token>` from a webhook delivery: decides that one approval only.",
        }
