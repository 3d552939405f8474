"""REST endpoints for accounts: sign-up, tokens (obtain, refresh, logout), the
caller's profile and ledger, personal API keys."""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView
from rest_framework_simplejwt.views import TokenRefreshView as BaseTokenRefreshView

from core.api import ModelSerializer, StrictSerializer, StrictSerializerMixin

from . import selectors, services, tokens
from .exceptions import LoginLockedOut
from .models import ApiKey, CreditEntry
from .throttling import SignUpRateThrottle, TierRateThrottle


class SignUpSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)


class LimitsSerializer(serializers.Serializer):
    monthly_credits = serializers.IntegerField()
    max_running_jobs = serializers.IntegerField()
    max_queued_jobs = serializers.IntegerField()
    submit_rate = serializers.CharField()
    read_rate = serializers.CharField()
    max_images_per_job = serializers.IntegerField()
    max_side = serializers.IntegerField()
    max_source_pixels = serializers.IntegerField()
    max_upscale_factor = serializers.IntegerField()
    queue_weight = serializers.IntegerField(help_text="Turns per round of a path's fair queue.")
    max_batch_jobs = serializers.IntegerField(help_text="Jobs one campaign batch may create.")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    tier = serializers.CharField()
    balance = serializers.IntegerField(source="credit_balance", help_text="Credits available to spend.")
    reserved = serializers.IntegerField(source="credits_reserved", help_text="Credits held by unfinished jobs.")
    limits = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()

    @extend_schema_field(LimitsSerializer)
    def get_limits(self, user) -> dict:
        return LimitsSerializer(selectors.limits_for(user)).data


class CreditEntrySerializer(ModelSerializer):
    job = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    description = serializers.CharField(
        read_only=True, help_text="The reason in the request's Accept-Language; `reason` is the record, as written."
    )

    class Meta:
        model = CreditEntry
        fields = ("id", "kind", "amount", "reserved_change", "credits", "reason", "description", "job", "created_at")
        read_only_fields = fields


class ApiKeySerializer(StrictSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ("id", "name", "prefix", "created_at", "last_used_at")
        read_only_fields = ("id", "prefix", "created_at", "last_used_at")


class SignUpView(APIView):
    """The same 202 whether or not the address has an account: a new one gets a confirmation link (its free
    credits come once it is followed), a registered one a note to its owner. Counted per client address."""

    permission_classes = (AllowAny,)
    throttle_classes = (TierRateThrottle, SignUpRateThrottle)

    @extend_schema(
        request=SignUpSerializer,
        responses={202: inline_serializer("SignUpAccepted", {"detail": serializers.CharField()})},
    )
    def post(self, request):
        serializer = SignUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.sign_up(**serializer.validated_data, site_url=request.build_absolute_uri("/").rstrip("/"))
        detail = _("Check your inbox: we sent a message to %(email)s.") % {"email": serializer.validated_data["email"]}
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class LogoutSerializer(StrictSerializer):
    refresh = serializers.CharField(help_text="The refresh token to end.")
    everywhere = serializers.BooleanField(
        default=False, help_text="Also end every other session and token of the account (API keys stay)."
    )


class LogoutView(APIView):
    """Ends a refresh token; with `everywhere`, every website session and JWT of the account too."""

    permission_classes = (AllowAny,)  # the refresh token is the credential

    @extend_schema(request=LogoutSerializer, responses={204: None})
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tokens.log_out(
            raw_token=serializer.validated_data["refresh"], everywhere=serializer.validated_data["everywhere"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class LedgerView(generics.ListAPIView):
    serializer_class = CreditEntrySerializer

    def get_queryset(self):
        return selectors.ledger_for(self.request.user)


class ApiKeyListCreateView(generics.ListAPIView):
    serializer_class = ApiKeySerializer

    def get_queryset(self):
        return selectors.api_keys_for(self.request.user)

    @extend_schema(
        request=ApiKeySerializer,
        responses={
            201: inline_serializer(
                "CreatedApiKey", {"key": serializers.CharField(help_text="Shown once."), "api_key": ApiKeySerializer()}
            )
        },
    )
    def post(self, request):
        serializer = ApiKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw_key = services.create_api_key(user=request.user, name=serializer.validated_data["name"])
        return Response({"key": raw_key, "api_key": ApiKeySerializer(key).data}, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    @extend_schema(responses={200: ApiKeySerializer})
    def get(self, request, pk: int):
        return Response(ApiKeySerializer(get_object_or_404(selectors.api_keys_for(request.user), pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.revoke_api_key(key=get_object_or_404(selectors.api_keys_for(request.user), pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrictTokenObtainPairSerializer(StrictSerializerMixin, TokenObtainPairSerializer):
    token_class = tokens.RefreshToken  # carries the credentials claim (accounts.tokens)


class StrictTokenRefreshSerializer(StrictSerializerMixin, serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField(read_only=True)

    def validate(self, attrs: dict) -> dict:
        return tokens.rotate_refresh_token(raw_token=attrs["refresh"])


class TokenRefreshView(BaseTokenRefreshView):
    """A refresh token -> a new access token (30 min) and a new refresh token (7 days); the one sent is used up,
    and sending it again revokes every session and token of the account (it was copied)."""

    serializer_class = StrictTokenRefreshSerializer

    @extend_schema(
        responses={
            200: inline_serializer(
                "RotatedTokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
            )
        }
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenObtainView(TokenObtainPairView):
    """Email + password -> access (30 min) and refresh (7 days) tokens. Failed attempts count toward lockout."""

    serializer_class = StrictTokenObtainPairSerializer

    @extend_schema(
        responses={
            200: inline_serializer(
                "TokenPair",
                {
                    "access": serializers.CharField(help_text="Send as `Authorization: Bearer <access>`; 30 min."),
                    "refresh": serializers.CharField(help_text="For /api/v1/auth/token/refresh/; 7 days."),
                },
            )
        }
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            if getattr(request, "axes_locked_out", False):
                cool_off = get_cool_off(request)
                raise LoginLockedOut(retry_after=int(cool_off.total_seconds()) if cool_off else None) from None
            raise
