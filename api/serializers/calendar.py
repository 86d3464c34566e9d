"""The front-desk calendar: one location's days, its columns, sessions and closed times (read-only)."""

from __future__ import annotations

from datetime import timedelta

from rest_framework import serializers

from api.fields import AsciiDateField, ScopedPrimaryKeyField
from api.serializers.appointments import appointment_etag
from clinic.models import Location
from scheduling.desk.calendar import CALENDAR_DAYS_MAX
from scheduling.desk.selectors import GROUPINGS


class CalendarQuerySerializer(serializers.Serializer):
    """Query parameters of GET /calendar/ (strings, as every query parameter is)."""

    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    start = AsciiDateField(help_text="First local day shown (the location's calendar).")
    end = AsciiDateField(help_text=f"Day after the last one shown; at most {CALENDAR_DAYS_MAX} days after start.")
    by = serializers.ChoiceField(choices=list(GROUPINGS), default="room",
                                 help_text="The columns: one per room, clinician or device.")

    def validate(self, attrs):
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "Give a day after start."})
        if attrs["end"] - attrs["start"] > timedelta(days=CALENDAR_DAYS_MAX):
            raise serializers.ValidationError({"end": f"Show at most {CALENDAR_DAYS_MAX} days at a time."})
        return attrs


class CalendarResourceSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="key")
    title = serializers.CharField(source="label")
    note = serializers.CharField(help_text="Why the column takes no bookings (not in use, out of service); "
                                           "empty when it does.")


class CalendarBadgeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()

    def to_representation(self, instance):
        kind, label = instance
        return {"kind": kind, "label": label}


class CalendarSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="appointment.pk")
    resource = serializers.IntegerField(help_text="The column's id (room, clinician or device).")
    start = serializers.CharField(help_text="Local wall-clock start at the location, without offset.")
    end = serializers.CharField(help_text="Local wall-clock end at the location, without offset.")
    time_text = serializers.CharField(help_text="'14:30-15:00 GMT': the local times and the zone's abbreviation.")
    state = serializers.CharField(help_text="booked, confirmed, arrived, fulfilled or noshow.")
    state_label = serializers.CharField()
    badges = CalendarBadgeSerializer(many=True)
    actions = serializers.ListField(child=serializers.CharField(),
                                    help_text="What can be done now: arrive, noshow, cancel, move, book_next.")
    patient = serializers.IntegerField(source="appointment.patient_id")
    patient_name = serializers.SerializerMethodField()
    date_of_birth = serializers.DateField(source="appointment.patient.date_of_birth")
    course = serializers.IntegerField(source="appointment.course_id")
    clinician = serializers.IntegerField(source="appointment.clinician_id")
    clinician_name = serializers.SerializerMethodField()
    room = serializers.IntegerField(source="appointment.room_id")
    room_name = serializers.CharField(source="appointment.room.name")
    device = serializers.IntegerField(source="appointment.device_id")
    device_name = serializers.SerializerMethodField()
    etag = serializers.SerializerMethodField(help_text="Send it back as If-Match to change this appointment.")

    def get_patient_name(self, session) -> str:
        return str(session.appointment.patient)

    def get_clinician_name(self, session) -> str:
        return str(session.appointment.clinician)

    def get_device_name(self, session) -> str:
        return str(session.appointment.device)

    def get_etag(self, session) -> str:
        return appointment_etag(session.appointment)


class ClosedSpanSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    reason = serializers.CharField()
    resource = serializers.IntegerField(allow_null=True, help_text="The column closed; null: every column.")


class CalendarSerializer(serializers.Serializer):
    location = serializers.IntegerField(source="location.pk")
    time_zone = serializers.CharField(source="location.time_zone")
    zone_text = serializers.CharField(help_text="The zone as the pages name it: 'Europe/London (GMT)'.")
    utc_offset = serializers.CharField(help_text="The location's offset from UTC now, '+00:00'.")
    now = serializers.CharField(help_text="The location's wall-clock time now, without offset.")
    slot_minutes = serializers.IntegerField(source="location.slot_minutes")
    by = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    day_starts = serializers.TimeField(format="%H:%M:%S")
    day_ends = serializers.TimeField(format="%H:%M:%S")
    resources = CalendarResourceSerializer(many=True)
    sessions = CalendarSessionSerializer(many=True)
    closed = ClosedSpanSerializer(many=True)
