"""Appointments and their messages: the front desk's and the clinical shape, the booking inputs."""

from __future__ import annotations

from functools import cached_property

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import (
    AwareDateTimeField,
    ScopedPrimaryKeyField,
    ScopedRowsInput,
    StrictInputSerializer,
)
from api.serializers.records import SessionRecordSerializer
from clinic.models import Clinician, Device, Room
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    CancelledBy,
    ConfirmationChannel,
    Course,
    DisplayState,
    Notification,
)


class AppointmentSerializer(serializers.ModelSerializer):
    """An appointment as the front desk sees it: times in UTC and at the location, no session record."""

    patient_name = serializers.SerializerMethodField()
    clinician_name = serializers.SerializerMethodField()
    room_name = serializers.CharField(source="room.name", read_only=True)
    device_name = serializers.SerializerMethodField()
    time_zone = serializers.CharField(source="location.time_zone", read_only=True,
                                      help_text="The location's time zone (IANA name).")
    local_starts_at = serializers.SerializerMethodField(help_text="Start at the location, ISO 8601 with offset.")
    local_ends_at = serializers.SerializerMethodField(help_text="End at the location, ISO 8601 with offset.")
    etag = serializers.SerializerMethodField(help_text="Send it back as If-Match to change this appointment.")
    state = serializers.ChoiceField(
        source="display_state", choices=DisplayState.choices, read_only=True,
        help_text="What every screen shows: the status, with 'confirmed' for a booked session the patient "
                  "confirmed (labels: Booked, Confirmed by the patient, Arrived, Done, No-show, Cancelled, "
                  "Entered in error).")
    cancelled_by = serializers.ChoiceField(choices=CancelledBy.choices, allow_blank=True, read_only=True,
                                           help_text="Who cancelled: patient or clinic; empty unless cancelled.")
    confirmed_via = serializers.ChoiceField(choices=ConfirmationChannel.choices, allow_blank=True, read_only=True,
                                            help_text="How the patient confirmed; empty until they do.")

    class Meta:
        model = Appointment
        fields = ["id", "course", "patient", "patient_name", "location", "clinician", "clinician_name", "room",
                  "room_name", "device", "device_name", "starts_at", "ends_at", "local_date", "time_zone",
                  "local_starts_at", "local_ends_at", "status", "state", "cancelled_by", "cancellation_reason",
                  "confirmed_at", "confirmed_via", "version", "etag"]
        read_only_fields = fields

    def get_patient_name(self, appointment: Appointment) -> str:
        return str(appointment.patient)

    def get_clinician_name(self, appointment: Appointment) -> str:
        return str(appointment.clinician)

    def get_device_name(self, appointment: Appointment) -> str:
        return str(appointment.device)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_local_starts_at(self, appointment: Appointment) -> str:
        return appointment.location.local(appointment.starts_at).isoformat()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_local_ends_at(self, appointment: Appointment) -> str:
        return appointment.location.local(appointment.ends_at).isoformat()

    def get_etag(self, appointment: Appointment) -> str:
        return appointment_etag(appointment)


class AppointmentClinicalSerializer(AppointmentSerializer):
    """An appointment as clinicians and managers see it: with its session record once done."""

    session_record = serializers.SerializerMethodField(
        help_text="What was done in the session; clinicians and managers only (absent for the front desk)."
    )

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "session_record"]
        read_only_fields = fields

    @cached_property
    def _session_record(self) -> SessionRecordSerializer:
        return SessionRecordSerializer(context=self.context)  # one for every row, as PatientClinicalSerializer

    @extend_schema_field(SessionRecordSerializer(allow_null=True, required=False))
    def get_session_record(self, appointment: Appointment):
        # Only a fulfilled session has a record (recording one fulfils it, and a recorded session can no longer be
        # cancelled, marked a no-show or withdrawn): any other one is answered without asking for it.
        if appointment.status != AppointmentStatus.FULFILLED or not hasattr(appointment, "session_record"):
            return None
        return self._session_record.to_representation(appointment.session_record)


def appointment_etag(appointment: Appointment) -> str:
    return f'"appointment-{appointment.pk}-v{appointment.version}"'


class AppointmentBookSerializer(ScopedRowsInput):
    """The course, clinician, room and device, read in one query (ScopedRowsInput), the clinician with the
    user who names them in the answer; the booking locks and reads the course with its location itself, so
    only the course's id is read here, and of the clinician what the booking rules and the answer read."""

    read_with = {"clinician": ("user",)}
    read_columns = {"course": ("id",), "clinician": ("id", "user_id", "role", "is_active", "user__id",
                                                 "user__username", "user__first_name", "user__last_name")}

    course = ScopedPrimaryKeyField(scope="courses", queryset=Course.objects.all())
    clinician = ScopedPrimaryKeyField(scope="clinicians", queryset=Clinician.objects.all())
    room = ScopedPrimaryKeyField(scope="rooms", queryset=Room.objects.all())
    device = ScopedPrimaryKeyField(scope="devices", queryset=Device.objects.all())
    starts_at = AwareDateTimeField()


class AppointmentRescheduleSerializer(StrictInputSerializer):
    """Move a session; the course's later booked sessions are re-planned so the cadence holds.

    For a missed session (no-show) this books a make-up session: at ``starts_at`` when given, else at
    the first time the cadence allows from tomorrow.
    """

    starts_at = AwareDateTimeField(required=False, help_text="The new time; required for a booked session.")
    preview = serializers.BooleanField(default=False, help_text="Answer the plan without changing anything.")
    clinician = ScopedPrimaryKeyField(scope="clinicians", queryset=Clinician.objects.all(), required=False,
                                      allow_null=True)
    room = ScopedPrimaryKeyField(scope="rooms", queryset=Room.objects.all(), required=False, allow_null=True)
    device = ScopedPrimaryKeyField(scope="devices", queryset=Device.objects.all(), required=False, allow_null=True)


class AppointmentMoveSerializer(StrictInputSerializer):
    """Move this one session (the calendar's drag and drop): its time, its length, or who and where.

    The course's other sessions stay where they are; ``reschedule`` is the move that re-plans them.
    """

    starts_at = AwareDateTimeField(help_text="The new start (give the old one to change only the length).")
    minutes = serializers.IntegerField(required=False, allow_null=True, default=None,
                                       help_text="A new length in minutes (25-45); absent: the length stays.")
    clinician = ScopedPrimaryKeyField(scope="clinicians", queryset=Clinician.objects.all(), required=False,
                                      allow_null=True)
    room = ScopedPrimaryKeyField(scope="rooms", queryset=Room.objects.all(), required=False, allow_null=True)
    device = ScopedPrimaryKeyField(scope="devices", queryset=Device.objects.all(), required=False, allow_null=True)


class AppointmentCancelSerializer(StrictInputSerializer):
    by = serializers.ChoiceField(choices=CancelledBy.choices, help_text="Who cancels: the patient or the clinic.")
    reason = serializers.CharField(max_length=200)


class AppointmentConfirmSerializer(StrictInputSerializer):
    via = serializers.ChoiceField(
        choices=[(value, label) for value, label in ConfirmationChannel.choices
                 if value != ConfirmationChannel.EMAIL_LINK],
        default=ConfirmationChannel.PHONE, help_text="How the patient told the clinic (the email link is theirs).")



class NotificationSerializer(serializers.ModelSerializer):
    """One message to a patient (read-only): what, when it is due, and whether it went out."""

    class Meta:
        model = Notification
        fields = ["id", "kind", "patient", "course", "appointment", "appointment_version", "due_at", "status",
                  "attempts", "sent_at", "created_at"]
        read_only_fields = fields
