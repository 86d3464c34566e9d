"""The waitlist: entries (list, create, cancel, offer a time by hand) and the offers sent. Every change goes
through scheduling.waitlist.services; rows are scoped by location like the other resources."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from api.base import ScopedReadViewSet, errors
from api.filters import IdFilter
from api.serializers.waitlist import (
    WaitlistEntryCreateSerializer,
    WaitlistEntrySerializer,
    WaitlistOfferByHandSerializer,
    WaitlistOfferSerializer,
)
from scheduling.waitlist.models import WaitlistEntryStatus, WaitlistOfferStatus
from scheduling.waitlist.services import waitlist_entry_cancel, waitlist_entry_create, waitlist_offer_by_hand


class WaitlistEntryFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    patient = IdFilter(field_name="patient_id")
    course = IdFilter(field_name="course_id")
    status = django_filters.ChoiceFilter(choices=WaitlistEntryStatus.choices)


class WaitlistOfferFilter(django_filters.FilterSet):
    entry = IdFilter(field_name="entry_id")
    location = IdFilter(field_name="slot__location_id")
    status = django_filters.ChoiceFilter(choices=WaitlistOfferStatus.choices)


class WaitlistEntryViewSet(mixins.CreateModelMixin, ScopedReadViewSet):
    """Patients waiting for an earlier time at the acting user's locations, oldest first."""

    serializer_class = WaitlistEntrySerializer
    scope_name = "waitlist_entries"
    filterset_class = WaitlistEntryFilter
    ordering = ["created_at", "id"]
    ordering_fields = ["id", "created_at", "until"]

    @extend_schema(request=WaitlistEntryCreateSerializer, responses={201: WaitlistEntrySerializer,
                                                                     **errors(400, 403, 409)})
    def create(self, request):
        """Put a course on the waitlist: move ``appointment`` earlier, or book the course's next session."""
        entry = waitlist_entry_create(created_by=request.user, **self.validated(WaitlistEntryCreateSerializer))
        return self.answer(entry, status=201)

    @extend_schema(request=None, responses={200: WaitlistEntrySerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Take the entry off the waitlist; its open offers are withdrawn."""
        return self.answer(waitlist_entry_cancel(entry=self.get_object(), cancelled_by=request.user))

    @extend_schema(request=WaitlistOfferByHandSerializer, responses={201: WaitlistOfferSerializer,
                                                                     **errors(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def offer(self, request, pk=None):
        """Offer a time to this entry by hand (within the course's rules); the patient gets the offer email."""
        offer = waitlist_offer_by_hand(entry=self.get_object(), offered_by=request.user,
                                       **self.validated(WaitlistOfferByHandSerializer))
        return Response(WaitlistOfferSerializer(offer, context=self.get_serializer_context()).data, status=201)


class WaitlistOfferViewSet(ScopedReadViewSet):
    """Freed times offered to waiting patients at the acting user's locations, newest first, with their state."""

    serializer_class = WaitlistOfferSerializer
    scope_name = "waitlist_offers"
    filterset_class = WaitlistOfferFilter
    ordering = ["-created_at", "-id"]
    ordering_fields = ["id", "created_at", "expires_at"]
