"""Locations, rooms, devices, clinicians, opening and working hours, closures.

Everyone reads the rows of their own locations; only a manager adds or changes them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action

from api import filters as api_filters
from api.base import ScopedReadViewSet, errors
from api.permissions import ManagerWrites
from api.serializers.clinic import (
    ClinicianSerializer,
    ClosureCreateSerializer,
    ClosureSerializer,
    DeviceCreateSerializer,
    DeviceInServiceSerializer,
    DeviceSerializer,
    LocationCreateSerializer,
    LocationSerializer,
    OpeningHoursCreateSerializer,
    OpeningHoursSerializer,
    RoomCreateSerializer,
    RoomSerializer,
    WorkingHoursSerializer,
)
from clinic import services


class ManagedViewSet(mixins.CreateModelMixin, ScopedReadViewSet):
    permission_classes = [ManagerWrites]


class LocationViewSet(ManagedViewSet):
    serializer_class = LocationSerializer
    scope_name = "locations"
    ordering_fields = ["id", "name"]
    ordering = ["name"]

    @extend_schema(request=LocationCreateSerializer, responses={201: LocationSerializer, **errors(400, 403)})
    def create(self, request):
        data = self.validated(LocationCreateSerializer)
        location = services.location_create(created_by=request.user, **data)
        return self.answer(location, status=201)


class RoomViewSet(ManagedViewSet):
    serializer_class = RoomSerializer
    scope_name = "rooms"
    filterset_class = api_filters.LocationFilter
    ordering_fields = ["id", "name"]

    @extend_schema(request=RoomCreateSerializer, responses={201: RoomSerializer, **errors(400, 403)})
    def create(self, request):
        room = services.room_create(created_by=request.user, **self.validated(RoomCreateSerializer))
        return self.answer(room, status=201)


class DeviceViewSet(ManagedViewSet):
    serializer_class = DeviceSerializer
    scope_name = "devices"
    filterset_class = api_filters.LocationFilter
    ordering_fields = ["id", "model", "serial_number"]

    @extend_schema(request=DeviceCreateSerializer, responses={201: DeviceSerializer, **errors(400, 403)})
    def create(self, request):
        device = services.device_create(created_by=request.user, **self.validated(DeviceCreateSerializer))
        return self.answer(device, status=201)

    @extend_schema(request=DeviceInServiceSerializer, responses={200: DeviceSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"], url_path="in-service")
    def in_service(self, request, pk=None):
        """Take a device out of service (it can no longer be booked) or back into service."""
        device = self.get_object()
        data = self.validated(DeviceInServiceSerializer)
        device = services.device_set_in_service(device=device, in_service=data["in_service"], changed_by=request.user)
        return self.answer(device)


class ClinicianViewSet(ScopedReadViewSet):
    serializer_class = ClinicianSerializer
    scope_name = "clinicians"
    filterset_class = api_filters.ClinicianFilter
    ordering_fields = ["id", "user__last_name"]


class OpeningHoursViewSet(ManagedViewSet):
    serializer_class = OpeningHoursSerializer
    scope_name = "opening_hours"
    filterset_class = api_filters.LocationFilter
    ordering = ["location", "weekday", "opens_at"]
    ordering_fields = ["id", "weekday", "opens_at"]

    @extend_schema(request=OpeningHoursCreateSerializer,
                   responses={201: OpeningHoursSerializer, **errors(400, 403)})
    def create(self, request):
        hours = services.opening_hours_add(created_by=request.user, **self.validated(OpeningHoursCreateSerializer))
        return self.answer(hours, status=201)


class WorkingHoursViewSet(ScopedReadViewSet):
    serializer_class = WorkingHoursSerializer
    scope_name = "working_hours"
    filterset_class = api_filters.LocationFilter
    ordering = ["clinician", "weekday", "starts_at"]
    ordering_fields = ["id", "weekday", "starts_at"]


class ClosureViewSet(ManagedViewSet):
    serializer_class = ClosureSerializer
    scope_name = "closures"
    filterset_class = api_filters.ClosureFilter
    ordering = ["starts_at", "id"]
    ordering_fields = ["id", "starts_at"]

    @extend_schema(request=ClosureCreateSerializer, responses={201: ClosureSerializer, **errors(400, 403)})
    def create(self, request):
        closure = services.closure_create(created_by=request.user, **self.validated(ClosureCreateSerializer))
        return self.answer(closure, status=201)
