"""The scheduling engine's answers: free slots, a whole course's plan, and the course booking input."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import (
    AsciiDateField,
    ScopedPrimaryKeyField,
    StrictInputSerializer,
    WallClockTimeField,
)
from api.serializers.errors import ErrorSerializer
from clinic.models import Clinician, Device, Location, Room
from clinic.selectors import location_ids_visible_to
from patients.models import Patient
from scheduling.engine.setup import location_setup
from scheduling.models import (
    SESSION_MINUTES_MAX,
    SESSION_MINUTES_MIN,
)


class AvailabilityQuerySerializer(serializers.Serializer):
    """Query parameters of GET /availability/ (strings, as every query parameter is)."""

    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    start = AsciiDateField(help_text="First local day searched (the location's calendar).")
    end = AsciiDateField(help_text="Day after the last one searched.")
    minutes = serializers.IntegerField(min_value=SESSION_MINUTES_MIN, max_value=SESSION_MINUTES_MAX,
                                       help_text="Session length in minutes.")
    clinician = ScopedPrimaryKeyField(scope="clinicians", queryset=Clinician.objects.all(), required=False)
    room = ScopedPrimaryKeyField(scope="rooms", queryset=Room.objects.all(), required=False)
    device = ScopedPrimaryKeyField(scope="devices", queryset=Device.objects.all(), required=False)
    patient = ScopedPrimaryKeyField(scope="patients", queryset=Patient.objects.all(), required=False,
                                    help_text="Keep this patient's own sessions clear.")

    def to_internal_value(self, data):
        self.scoped_rows = self._from_setup(data)
        return super().to_internal_value(data)

    def _from_setup(self, data) -> dict:
        """The location and the clinician from the location's cached set-up (``scheduling.engine.setup``), without
        a query, when the location is one of the user's (their location ids are cached too) and the clinician
        works there; any other id is looked up by its own field, which gives its usual answer."""
        scope, location_id = self.context.get("scope"), data.get("location")
        if scope is None or not (isinstance(location_id, str) and location_id.isascii() and location_id.isdigit()):
            return {}
        if int(location_id) not in location_ids_visible_to(user=scope.request.user):
            return {}
        setup = location_setup(int(location_id))
        if setup is None:
            return {}
        found = {"location": setup.location}
        clinician = next((c for c in setup.clinicians if str(c.pk) == data.get("clinician")), None)
        if clinician is not None:
            found["clinician"] = clinician
        return found


class _LocalTimesMixin(serializers.Serializer):
    local_starts_at = serializers.SerializerMethodField(help_text="Start at the location, ISO 8601 with offset.")
    local_ends_at = serializers.SerializerMethodField(help_text="End at the location, ISO 8601 with offset.")

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_local_starts_at(self, item) -> str:
        return self.context["location"].local(item.starts_at).isoformat()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_local_ends_at(self, item) -> str:
        return self.context["location"].local(item.ends_at).isoformat()


class SlotSerializer(_LocalTimesMixin):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    clinician = serializers.IntegerField(source="clinician.pk", help_text="A suggestion: the first free clinician.")
    room = serializers.IntegerField(source="room.pk")
    device = serializers.IntegerField(source="device.pk")
    clinicians = serializers.SerializerMethodField(help_text="Every clinician free for the whole session.")
    rooms = serializers.SerializerMethodField()
    devices = serializers.SerializerMethodField()

    def get_clinicians(self, slot) -> list[int]:
        return [clinician.pk for clinician in slot.clinicians]

    def get_rooms(self, slot) -> list[int]:
        return [room.pk for room in slot.rooms]

    def get_devices(self, slot) -> list[int]:
        return [device.pk for device in slot.devices]


class AvailabilitySerializer(serializers.Serializer):
    location = serializers.IntegerField()
    time_zone = serializers.CharField()
    minutes = serializers.IntegerField()
    slots = SlotSerializer(many=True)


class PlannedSessionSerializer(_LocalTimesMixin):
    number = serializers.IntegerField(help_text="Session number within the course.")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    clinician = serializers.IntegerField(source="clinician.pk")
    room = serializers.IntegerField(source="room.pk")
    device = serializers.IntegerField(source="device.pk")
    appointment = serializers.SerializerMethodField(help_text="The booked appointment; null in a preview.")

    def get_appointment(self, session) -> int | None:
        return session.appointment.pk if session.appointment is not None else None


class UnplacedSessionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    reason = serializers.CharField()


class CoursePlanSerializer(serializers.Serializer):
    course = serializers.IntegerField(source="course.pk")
    booked = serializers.BooleanField(help_text="True once every session is in the calendar.")
    fits = serializers.BooleanField(help_text="False when some sessions found no place (see unplaced).")
    horizon_end = serializers.DateField()
    time_zone = serializers.CharField(source="course.location.time_zone")
    sessions = PlannedSessionSerializer(many=True)
    unplaced = UnplacedSessionSerializer(many=True)


class CourseDoesNotFitSerializer(ErrorSerializer):
    plan = CoursePlanSerializer(help_text="The best partial plan, with the reason of each session that does not fit.")


class CourseBookSerializer(StrictInputSerializer):
    preview = serializers.BooleanField(default=False, help_text="Answer the plan without booking anything.")
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), required=False,
                                     min_length=1, max_length=7, help_text="The patient's days, 0 = Monday.")
    earliest = WallClockTimeField(required=False, help_text="No session starts before this local time.")
    latest = WallClockTimeField(required=False, help_text="Every session ends by this local time.")
    clinician = ScopedPrimaryKeyField(scope="clinicians", queryset=Clinician.objects.all(), required=False,
                                      help_text="The preferred clinician, where free.")
    first_date = AsciiDateField(required=False, help_text="The first day to book (today at the earliest).")
