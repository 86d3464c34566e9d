"""Tokens for integrations: ask with a username, a password and, for a user with a second sign-in step,
its code; send as ``Authorization: Bearer``."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.authentication import BearerTokenAuthentication
from api.base import errors
from api.fields import StrictInputSerializer
from api.models import ApiToken
from api.permissions import IsStaff
from api.services import token_issue, token_revoke
from api.throttling import TokenRateThrottle
from clinic.selectors import second_step_owed
from clinic.services import WRONG_CODE, two_factor_sign_in_verify

OTP_NEEDED = ("This account signs in with a second step: send the code from the authenticator app, "
              "or a backup code, as 'otp'.")
OTP_SETUP_FIRST = "Set up the second sign-in step at /account/2fa/setup/ before asking for a token."


class TokenRequestSerializer(StrictInputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    otp = serializers.CharField(
        max_length=20, required=False,
        help_text="The 6-digit code from the authenticator app, or an unused backup code; needed when the user "
                  "has an authenticator app (managers must have one where IONTO_MANAGER_2FA_REQUIRED is on).")


TokenSerializer = inline_serializer("Token", {
    "token": serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'. Shown once."),
    "expires_at": serializers.DateTimeField(),
})


class TokenView(APIView):
    authentication_classes = [BearerTokenAuthentication]

    def get_permissions(self):
        if self.request.method == "POST":
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self):
        if self.request.method == "POST":
            return [TokenRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        auth=[], request=TokenRequestSerializer,
        responses={201: TokenSerializer, **errors(400)},
        description="A new token for a member of staff, valid for IONTO_API_TOKEN_HOURS (30 days by default). "
                    "A user who signs in with a second step sends its code as `otp`; a wrong code counts as "
                    "a failed sign-in.",
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request=request._request, username=data.validated_data["username"],
                            password=data.validated_data["password"])
        if user is None:
            raise exceptions.ValidationError({"non_field_errors": ["Unknown username or wrong password."]})
        request.user = user
        if not IsStaff().has_permission(request, self):
            raise exceptions.ValidationError({"non_field_errors": [IsStaff.message]})
        owed = second_step_owed(user=user)
        if owed == "setup":
            raise exceptions.ValidationError({"otp": [OTP_SETUP_FIRST]})
        if owed == "verify":
            if not data.validated_data.get("otp"):
                raise exceptions.ValidationError({"otp": [OTP_NEEDED]})
            if two_factor_sign_in_verify(request=request._request, user=user, code=data.validated_data["otp"]) is None:
                raise exceptions.ValidationError({"otp": [WRONG_CODE]})
        issued = token_issue(user=user)
        return Response({"token": issued.token, "expires_at": serializers.DateTimeField().to_representation(
            issued.expires_at)}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="The token in use is revoked.")})
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise exceptions.ValidationError({"non_field_errors": ["Send the token to revoke as Bearer."]})
        token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
