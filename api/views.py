from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.health import health_status

_HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "down"]),
        "database": serializers.CharField(),
        "broker": serializers.CharField(),
    },
)


class HealthView(APIView):
    """Load balancers and `make run` ask here whether the service can work. Never throttled: a load
    balancer asks from one address all day, and the check costs one query and a pooled broker call."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(responses={200: _HealthSerializer, 503: _HealthSerializer})
    def get(self, request):
        parts = health_status()
        healthy = all(state == "ok" for state in parts.values())
        body = {"status": "ok" if healthy else "down", **parts}
        return Response(body, status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def not_found(request, *args, **kwargs):
    """No such endpoint: the API's own 404 rather than Django's HTML page."""
    return Response({"detail": "Not found.", "code": "not_found", "errors": {}}, status=status.HTTP_404_NOT_FOUND)
