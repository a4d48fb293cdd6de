"""One error shape for the API: {"detail": ...} plus field errors under their names."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# The refusals every authenticated endpoint can answer, for extend_schema(responses={..., **ACCESS_ERRORS}).
ACCESS_ERRORS = {
    401: OpenApiResponse(description="No or expired credentials."),
    403: OpenApiResponse(description="Visible but not allowed."),
    404: OpenApiResponse(description="Not visible to you."),
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is not in a state that allows this."
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this needs did not answer; try again shortly."
    default_code = "service_unavailable"


class TooManyRequests(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many requests."
    default_code = "too_many_requests"


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=_validation_detail(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict | list):
        data = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        detail = data.get("detail") or "Invalid input."
        response.data = {"detail": detail, **{k: v for k, v in data.items() if k != "detail"}}
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    return response


def _validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "message_dict"):
        return exc.message_dict
    return {"detail": exc.messages[0] if len(exc.messages) == 1 else exc.messages}


def error_response(detail: str, code: int) -> Response:
    return Response({"detail": detail}, status=code)
