"""The Content-Security-Policy header on every response (settings.CONTENT_SECURITY_POLICY): scripts, styles,
images and connections from this origin only, no inline script or style, no framing, no plugins. Pages keep
their scripts and styles in static files; data reaches scripts through `json_script` blocks."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
