"""The clinic's resources: locations, rooms, devices, clinicians, opening and working hours, closures."""

from __future__ import annotations

from rest_framework import serializers

from api.fields import (
    AwareDateTimeField,
    ScopedPrimaryKeyField,
    StrictInputSerializer,
    WallClockTimeField,
)
from clinic.models import Clinician, Closure, Device, Location, OpeningHours, Room, Weekday, WorkingHours


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["id", "name", "address", "phone", "time_zone", "slot_minutes", "turnover_minutes",
                  "booking_horizon_weeks", "reminder_hours_before", "second_reminder_hours_before",
                  "late_cancellation_hours", "waitlist_offer_minutes", "max_current_ma_adult", "max_current_ma_child"]
        read_only_fields = fields


class LocationCreateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=120)
    address = serializers.CharField(max_length=2000)
    phone = serializers.CharField(max_length=40)
    time_zone = serializers.CharField(max_length=64)


class RoomSerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["id", "location", "name", "is_active"]
        read_only_fields = fields


class RoomCreateSerializer(StrictInputSerializer):
    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    name = serializers.CharField(max_length=60)


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "location", "model", "serial_number", "in_service"]
        read_only_fields = fields


class DeviceCreateSerializer(StrictInputSerializer):
    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    model = serializers.CharField(max_length=80)
    serial_number = serializers.CharField(max_length=60)
    in_service = serializers.BooleanField(default=True)


class DeviceInServiceSerializer(StrictInputSerializer):
    in_service = serializers.BooleanField()


class ClinicianSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    locations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Clinician
        fields = ["id", "username", "first_name", "last_name", "locations"]
        read_only_fields = fields


class OpeningHoursSerializer(serializers.ModelSerializer):
    opens_at = WallClockTimeField(read_only=True)
    closes_at = WallClockTimeField(read_only=True)

    class Meta:
        model = OpeningHours
        fields = ["id", "location", "weekday", "opens_at", "closes_at"]
        read_only_fields = fields


class OpeningHoursCreateSerializer(StrictInputSerializer):
    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    weekday = serializers.ChoiceField(choices=Weekday.choices)
    opens_at = WallClockTimeField()
    closes_at = WallClockTimeField()


class WorkingHoursSerializer(serializers.ModelSerializer):
    starts_at = WallClockTimeField(read_only=True)
    ends_at = WallClockTimeField(read_only=True)

    class Meta:
        model = WorkingHours
        fields = ["id", "clinician", "location", "weekday", "starts_at", "ends_at"]
        read_only_fields = fields


class ClosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Closure
        fields = ["id", "location", "room", "device", "clinician", "starts_at", "ends_at", "reason"]
        read_only_fields = fields


class ClosureCreateSerializer(StrictInputSerializer):
    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()
    reason = serializers.CharField(max_length=200)
    room = ScopedPrimaryKeyField(scope="rooms", queryset=Room.objects.all(), required=False, allow_null=True)
    device = ScopedPrimaryKeyField(scope="devices", queryset=Device.objects.all(), required=False, allow_null=True)
    clinician = ScopedPrimaryKeyField(scope="clinicians", queryset=Clinician.objects.all(), required=False,
                                      allow_null=True)
