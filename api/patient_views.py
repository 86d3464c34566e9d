"""Patients (contact data for everyone, the screening for clinical staff) and screenings."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action

from api import filters as api_filters
from api import scope
from api.base import ScopedReadViewSet, errors
from api.pagination import SearchPages
from api.permissions import IsClinical, is_clinical
from api.serializers.patients import (
    PatientClinicalSerializer,
    PatientCreateSerializer,
    PatientSerializer,
    PatientUpdateSerializer,
    ScreeningCreateSerializer,
    ScreeningOverrideSerializer,
    ScreeningSerializer,
)
from patients import services
from patients.models import Screening
from patients.selectors import SEARCH_ORDER


class PatientViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, ScopedReadViewSet):
    """Patients of the acting user's locations: a preferred location there, or a course there.

    ``search`` matches the starts of names, email and phone, or a date of birth; its first 1,000 matches
    are counted and paged, and ``more_matches`` says that more match. Archived patients are left out of
    lists unless ``include_archived=true``.
    """

    serializer_class = PatientSerializer
    clinical_serializer_class = PatientClinicalSerializer
    filterset_class = api_filters.PatientFilter
    ordering_fields = ["id", "last_name", "first_name", "date_of_birth", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    pagination_class = SearchPages

    @property
    def searching(self) -> bool:
        request = getattr(self, "request", None)
        return request is not None and bool(request.query_params.get("search", "").strip())

    @property
    def ordering(self):
        """Name order; a search's matches in SEARCH_ORDER (``patients.selectors`` says why), unless the
        request names its ``ordering``."""
        return SEARCH_ORDER if self.searching else ["last_name", "first_name", "id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PatientSerializer.Meta.model.objects.none()
        listing_only_current = self.action == "list" and "include_archived" not in self.request.query_params
        rows = scope.patients(self.request, include_archived=not listing_only_current)
        rows = rows.select_related("preferred_location")
        if is_clinical(self.request):
            rows = rows.prefetch_related(Prefetch(
                "screenings", queryset=Screening.objects.order_by("-recorded_at", "-id"), to_attr="current_screenings"
            ))
        return rows

    @extend_schema(request=PatientCreateSerializer,
                   responses={201: PatientClinicalSerializer, **errors(400, 403, 409)})
    def create(self, request):
        patient = services.patient_register(registered_by=request.user, **self.validated(PatientCreateSerializer))
        return self.answer(patient, status=201)

    @extend_schema(request=PatientUpdateSerializer,
                   responses={200: PatientClinicalSerializer, **errors(400, 403, 404)})
    def partial_update(self, request, pk=None):
        patient = self.get_object()
        changes = self.validated(PatientUpdateSerializer, partial=True)
        patient = services.patient_update(patient=patient, updated_by=request.user, **changes)
        return self.answer(patient)

    @extend_schema(request=None, responses={200: PatientClinicalSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Take the patient out of lists and searches; nothing is deleted. Upcoming sessions must be cancelled first."""
        patient = services.patient_archive(patient=self.get_object(), archived_by=request.user)
        return self.answer(patient)

    @extend_schema(request=None, responses={200: PatientClinicalSerializer, **errors(403, 404)})
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        patient = services.patient_restore(patient=self.get_object(), restored_by=request.user)
        return self.answer(patient)


class ScreeningViewSet(mixins.CreateModelMixin, ScopedReadViewSet):
    """Contraindication screenings: clinicians and managers only; the front desk gets 403."""

    serializer_class = ScreeningSerializer
    permission_classes = [IsClinical]
    scope_name = "screenings"
    filterset_class = api_filters.ScreeningFilter
    ordering = ["-recorded_at", "-id"]
    ordering_fields = ["id", "recorded_at"]

    @extend_schema(request=ScreeningCreateSerializer, responses={201: ScreeningSerializer, **errors(400, 403)})
    def create(self, request):
        data = self.validated(ScreeningCreateSerializer)
        answers = {name: value for name, value in data["answers"].items() if value is not None}
        screening = services.screening_record(
            patient=data["patient"], recorded_by=request.user, answers=answers, for_medicated=data["for_medicated"],
            override_reason=data["override_reason"],
        )
        return self.answer(screening, status=201)

    @extend_schema(request=ScreeningOverrideSerializer,
                   responses={200: ScreeningSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        """A clinician's justified decision to treat despite a positive answer."""
        data = self.validated(ScreeningOverrideSerializer)
        screening = services.screening_override(screening=self.get_object(), overridden_by=request.user,
                                                reason=data["reason"])
        return self.answer(screening)
