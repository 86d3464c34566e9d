"""What every resource view shares: role checks, location scoping, error responses in the schema."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, filters, viewsets
from rest_framework.response import Response

from api import scope
from api.pagination import PageNumber
from api.permissions import IsStaff, is_clinical
from api.serializers.errors import ErrorSerializer
from patients.selectors import patient_of
from patients.services import audit_read


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for extend_schema, each in the one error shape."""
    words = {
        400: "Invalid input: a message per field.",
        403: "Your role may not do this.",
        404: "No such row among those you can see.",
        409: "Conflicts with a stored booking (names its time and resource) or with the course's rules.",
        412: "If-Match names an older version: someone else changed the appointment.",
        422: "This Idempotency-Key was used with a different request.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=words.get(code, "")) for code in codes}


class StrictQueryMixin:
    """Query parameters given once each, and never empty unless they are free text."""

    text_parameters = frozenset({"search", "ordering", "cursor"})
    repeatable_parameters = frozenset({"status"})

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        problems = {}
        for name in request.query_params:
            values = request.query_params.getlist(name)
            if len(values) > 1 and name not in self.repeatable_parameters:
                problems[name] = ["Give this parameter once."]
            elif "" in values and name not in self.text_parameters:
                problems[name] = ["Give a value or leave the parameter out."]
        if problems:
            raise exceptions.ValidationError(problems)


def audit_read_of(request, instance) -> None:
    """A record about a patient, read through the API, is a read in the audit trail."""
    patient = patient_of(instance)
    if patient is not None:
        audit_read(actor=request.user, patient=patient, obj=instance)


class ScopedReadViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    """Lists and details of the rows in the acting user's locations.

    ``scope_name`` names the function in api.scope giving the visible rows; ``clinical_serializer_class``,
    when set, replaces ``serializer_class`` for clinicians and managers.
    """

    permission_classes = [IsStaff]
    pagination_class = PageNumber
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    scope_name: str = ""
    clinical_serializer_class = None
    ordering = ["id"]
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.serializer_class.Meta.model.objects.none()
        return getattr(scope, self.scope_name)(self.request)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        audit_read_of(request, instance)
        return self.answer(instance)

    def get_serializer_class(self):
        if self.clinical_serializer_class is not None and is_clinical(self.request):
            return self.clinical_serializer_class
        return self.serializer_class

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "scope": scope.Scope(self.request)}

    def validated(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(),
                                      partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def answer(self, instance, *, status: int = 200, headers: dict | None = None) -> Response:
        """The row as the acting user sees it, read again through the scoped queryset."""
        fresh = self.get_queryset().get(pk=instance.pk)
        serializer = self.get_serializer_class()(fresh, context=self.get_serializer_context())
        return Response(serializer.data, status=status, headers=headers)
