from django.contrib.auth import update_session_auth_hash
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs import services
from orgs.selectors import org_list
from skyflo.client_ip import client_ip
from skyflo.throttles import ScopedRateThrottle


class PublicAuthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class MeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    is_staff = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    orgs = serializers.SerializerMethodField()

    def get_orgs(self, user) -> list[str]:
        return list(org_list(user=user).values_list("slug", flat=True))


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RegisterView(PublicAuthView):
    @extend_schema_serializer(component_name="RegisterInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(write_only=True, style={"input_type": "password"})
        full_name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
        invitation = serializers.CharField(required=False, allow_blank=True)
        org_name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: MeOutput}, tags=["auth"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            full_name=data.validated_data["full_name"],
            invitation=data.validated_data.get("invitation") or None,
            org_name=data.validated_data.get("org_name") or None,
            ip=client_ip(request),
        )
        return Response(MeOutput(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(PublicAuthView):
    @extend_schema_serializer(component_name="TokenObtainInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.CharField()
        password = serializers.CharField(write_only=True, style={"input_type": "password"})

    @extend_schema(request=InputSerializer, responses={200: TokenPairOutput}, tags=["auth"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.login_attempt(ip=client_ip(request), **data.validated_data)
        return Response(services.token_pair_issue(user=user))


class TokenRefreshView(PublicAuthView):
    @extend_schema_serializer(component_name="TokenRefreshInput")
    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: TokenPairOutput}, tags=["auth"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.token_refresh(refresh=data.validated_data["refresh"], ip=client_ip(request)))


class LogoutView(APIView):
    @extend_schema_serializer(component_name="LogoutInput")
    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("LogoutOutput", {"detail": serializers.CharField()})},
        tags=["auth"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.logout(actor=request.user, refresh=data.validated_data["refresh"], ip=client_ip(request))
        return Response({"detail": "Signed out."})


class PasswordView(APIView):
    """Change one's own password. Every other session, refresh token, access token and WebSocket of the user ends;
    the answer carries a new token pair, and a browser session that made the change stays signed in."""

    @extend_schema_serializer(component_name="PasswordChangeInput")
    class InputSerializer(serializers.Serializer):
        current_password = serializers.CharField(write_only=True, style={"input_type": "password"})
        new_password = serializers.CharField(write_only=True, style={"input_type": "password"})

    @extend_schema(request=InputSerializer, responses={200: TokenPairOutput}, tags=["auth"])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.password_change(actor=request.user, ip=client_ip(request), **data.validated_data)
        if request.session.session_key:
            update_session_auth_hash(request, user)
        return Response(services.token_pair_issue(user=user))


class MeView(APIView):
    @extend_schema_serializer(component_name="MeInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(required=False)
        full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        current_password = serializers.CharField(
            write_only=True, required=False, style={"input_type": "password"}, help_text="Needed to change the email."
        )

    @extend_schema(responses={200: MeOutput}, tags=["auth"])
    def get(self, request):
        return Response(MeOutput(request.user).data)

    @extend_schema(request=InputSerializer, responses={200: MeOutput}, tags=["auth"])
    def patch(self, request):
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.me_update(actor=request.user, ip=client_ip(request), **data.validated_data)
        return Response(MeOutput(user).data)
