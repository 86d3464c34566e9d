"""Tokens for integrations: ask with a username and password, send as ``Authorization: Bearer``."""

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


class TokenRequestSerializer(StrictInputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


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
        description="A new token for a member of staff, valid for IONTO_API_TOKEN_HOURS (30 days by default).",
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
        issued = token_issue(user=user)
        return Response({"token": issued.token, "expires_at": serializers.DateTimeField().to_representation(
            issued.expires_at)}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="The token in use is revoked.")})
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise exceptions.ValidationError({"non_field_errors": ["Send the token to revoke as Bearer."]})
        token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
