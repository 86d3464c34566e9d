"""An authenticated API request that does nothing: the API's own cost of every request.

``ROOT_URLCONF = "bench.noop"`` serves the whole site plus ``GET /api/v1/noop/``, an endpoint with
the API's defaults (bearer token or verified session, the throttles, the staff check) that reads the
acting user's locations, as every scoped list does, and answers 204. The benchmark
(``python -m bench.api noop``) and tests/api/test_write_query_counts.py ask it; the product never
routes it.
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.selectors import location_ids_visible_to

NOOP_PATH = "/api/v1/noop/"


class NoopView(APIView):
    def get(self, request):
        location_ids_visible_to(user=request.user)
        return Response(status=204)


urlpatterns = [
    path(NOOP_PATH.lstrip("/"), NoopView.as_view()),
    path("", include("clinic.urls")),
]
