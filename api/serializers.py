"""What the API answers (output serializers) and what it accepts (input serializers).

Output serializers only read; input serializers only check shapes and types, then the view hands
the values to a service. Front desk and clinical staff get different serializers for patients and
appointments: the front-desk ones have no screening answers and no session records at all.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import (
    AsciiDateField,
    AwareDateTimeField,
    ScopedPrimaryKeyField,
    StrictInputSerializer,
    WallClockTimeField,
)
from clinic.models import Clinician, Closure, Device, Location, OpeningHours, Room, Weekday, WorkingHours
from patients.models import CONTRAINDICATIONS, MEDICATED_CONTRAINDICATIONS, Patient, Screening
from scheduling.models import (
    CURRENT_MA_MAX,
    HDSS_MAX,
    HDSS_MIN,
    INITIAL_SESSIONS_MAX,
    INITIAL_SESSIONS_MIN,
    MAINTENANCE_INTERVAL_WEEKS_DEFAULT,
    MAINTENANCE_INTERVAL_WEEKS_MAX,
    MAINTENANCE_INTERVAL_WEEKS_MIN,
    MAINTENANCE_SESSIONS_DEFAULT,
    MAINTENANCE_SESSIONS_MAX,
    MAINTENANCE_SESSIONS_MIN,
    MEDICATED_DOSE_MAX_MA_MIN,
    PAIN_NPRS_MAX,
    SESSION_MINUTES_MAX,
    SESSION_MINUTES_MIN,
    SESSIONS_PER_WEEK_DEFAULT,
    SESSIONS_PER_WEEK_MAX,
    SESSIONS_PER_WEEK_MIN,
    SIDE_EFFECT_GRADE_MAX,
    SIDE_EFFECT_GRADE_MIN,
    Appointment,
    BodySite,
    CancelledBy,
    ConfirmationChannel,
    Course,
    Indication,
    Medium,
    Notification,
    SessionRecord,
    SessionSite,
    SideEffect,
    SideEffectKind,
    Waveform,
)

# ---------------------------------------------------------------------------------------------
# Errors, as the exception handler answers them


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words a person understands.")
    code = serializers.CharField(help_text="A machine-readable code, e.g. invalid, room_busy, not_found.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field; empty when no field is to blame.",
    )


# ---------------------------------------------------------------------------------------------
# The clinic's resources


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["id", "name", "address", "phone", "time_zone", "slot_minutes", "turnover_minutes",
                  "booking_horizon_weeks", "reminder_hours_before", "second_reminder_hours_before",
                  "late_cancellation_hours", "max_current_ma_adult", "max_current_ma_child"]
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


# ---------------------------------------------------------------------------------------------
# Patients and screenings


class PatientSerializer(serializers.ModelSerializer):
    """What the front desk sees of a patient: contact data, nothing clinical."""

    # Declared so the schema says what a patient without an address gets: an empty string.
    email = serializers.EmailField(read_only=True, allow_blank=True)

    class Meta:
        model = Patient
        fields = ["id", "first_name", "last_name", "date_of_birth", "email", "phone", "preferred_location",
                  "email_consent", "email_consent_at", "front_desk_notes", "archived_at"]
        read_only_fields = fields


class ScreeningSerializer(serializers.ModelSerializer):
    """A patient's answers to the contraindication list (clinicians and managers only)."""

    positive_answers = serializers.ListField(child=serializers.CharField(), read_only=True)
    blocks_booking = serializers.BooleanField(read_only=True)

    class Meta:
        model = Screening
        fields = ["id", "patient", "for_medicated", *CONTRAINDICATIONS, *MEDICATED_CONTRAINDICATIONS,
                  "recorded_by", "recorded_at", "override_reason", "overridden_by", "overridden_at",
                  "positive_answers", "blocks_booking"]
        read_only_fields = fields


class PatientClinicalSerializer(PatientSerializer):
    """What clinicians and managers see: the contact data and the current screening."""

    screening = serializers.SerializerMethodField(
        help_text="The current screening; clinicians and managers only (the front desk never gets this field)."
    )

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "screening"]
        read_only_fields = fields

    @cached_property
    def _screening(self) -> ScreeningSerializer:
        """One screening serializer for every row: DRF builds a serializer's fields per instance,
        which cost more than the rest of a 50-patient page."""
        return ScreeningSerializer(context=self.context)

    @extend_schema_field(ScreeningSerializer(allow_null=True, required=False))
    def get_screening(self, patient: Patient):
        current = getattr(patient, "current_screenings", None)
        return self._screening.to_representation(current[0]) if current else None


class PatientCreateSerializer(StrictInputSerializer):
    first_name = serializers.CharField(max_length=80)
    last_name = serializers.CharField(max_length=80)
    date_of_birth = AsciiDateField()
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    preferred_location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    email_consent = serializers.BooleanField(default=False)
    front_desk_notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PatientUpdateSerializer(StrictInputSerializer):
    first_name = serializers.CharField(max_length=80, required=False)
    last_name = serializers.CharField(max_length=80, required=False)
    date_of_birth = AsciiDateField(required=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    preferred_location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all(), required=False)
    email_consent = serializers.BooleanField(required=False)
    front_desk_notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def _answer_fields(*, medicated_only: bool) -> dict:
    names = MEDICATED_CONTRAINDICATIONS if medicated_only else CONTRAINDICATIONS
    return {name: serializers.BooleanField(help_text=question, required=medicated_only is False,
                                           allow_null=medicated_only)
            for name, question in names.items()}


ScreeningAnswersSerializer = type(
    "ScreeningAnswersSerializer", (StrictInputSerializer,),
    {**_answer_fields(medicated_only=False), **_answer_fields(medicated_only=True),
     "__doc__": "One answer per contraindication; the drug questions only for a medicated course."},
)


class ScreeningCreateSerializer(StrictInputSerializer):
    patient = ScopedPrimaryKeyField(scope="patients", queryset=Patient.objects.all())
    for_medicated = serializers.BooleanField(default=False)
    answers = ScreeningAnswersSerializer()
    override_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ScreeningOverrideSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)


# ---------------------------------------------------------------------------------------------
# Courses


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "patient", "location", "indication", "body_sites", "body_site_other", "medication", "phase",
                  "follows", "planned_sessions", "session_minutes", "sessions_per_week",
                  "maintenance_interval_weeks", "status", "discontinued_reason", "ended_at", "created_at"]
        read_only_fields = fields


class CourseCreateSerializer(StrictInputSerializer):
    patient = ScopedPrimaryKeyField(scope="patients", queryset=Patient.objects.all())
    location = ScopedPrimaryKeyField(scope="locations", queryset=Location.objects.all())
    indication = serializers.ChoiceField(choices=Indication.choices)
    body_sites = serializers.ListField(child=serializers.ChoiceField(choices=BodySite.choices), min_length=1,
                                       max_length=4)
    body_site_other = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    medication = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    planned_sessions = serializers.IntegerField(min_value=INITIAL_SESSIONS_MIN, max_value=INITIAL_SESSIONS_MAX)
    session_minutes = serializers.IntegerField(min_value=SESSION_MINUTES_MIN, max_value=SESSION_MINUTES_MAX,
                                               default=30)
    sessions_per_week = serializers.IntegerField(min_value=SESSIONS_PER_WEEK_MIN, max_value=SESSIONS_PER_WEEK_MAX,
                                                 default=SESSIONS_PER_WEEK_DEFAULT)


class CourseDiscontinueSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)


class CourseMaintenanceSerializer(StrictInputSerializer):
    interval_weeks = serializers.IntegerField(min_value=MAINTENANCE_INTERVAL_WEEKS_MIN,
                                              max_value=MAINTENANCE_INTERVAL_WEEKS_MAX,
                                              default=MAINTENANCE_INTERVAL_WEEKS_DEFAULT)
    planned_sessions = serializers.IntegerField(min_value=MAINTENANCE_SESSIONS_MIN, max_value=MAINTENANCE_SESSIONS_MAX,
                                                default=MAINTENANCE_SESSIONS_DEFAULT)


# ---------------------------------------------------------------------------------------------
# Session records


class SessionSiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = SessionSite
        fields = ["site", "site_other", "current_ma"]
        read_only_fields = fields


class SideEffectSerializer(serializers.ModelSerializer):
    class Meta:
        model = SideEffect
        fields = ["kind", "kind_other", "grade"]
        read_only_fields = fields


class SessionRecordSerializer(serializers.ModelSerializer):
    sites = SessionSiteSerializer(many=True, read_only=True)
    sweat_site = serializers.ChoiceField(choices=BodySite.choices, allow_blank=True, read_only=True)
    side_effects = SideEffectSerializer(many=True, read_only=True)

    class Meta:
        model = SessionRecord
        fields = ["id", "appointment", "minutes_of_current", "waveform", "polarity_reversed", "medium",
                  "dose_ma_min", "hdss", "pain_nprs", "sweat_mg_min", "sweat_site", "note", "sites", "side_effects",
                  "recorded_by", "created_at"]
        read_only_fields = fields


class SessionSiteInputSerializer(StrictInputSerializer):
    site = serializers.ChoiceField(choices=BodySite.choices)
    site_other = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    current_ma = serializers.DecimalField(max_digits=4, decimal_places=1, coerce_to_string=False,
                                          min_value=Decimal("0.1"),
                                          max_value=Decimal(CURRENT_MA_MAX))


class SideEffectInputSerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=SideEffectKind.choices)
    kind_other = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    grade = serializers.IntegerField(min_value=SIDE_EFFECT_GRADE_MIN, max_value=SIDE_EFFECT_GRADE_MAX)


class AppointmentCompleteSerializer(StrictInputSerializer):
    """The session record that completes an appointment."""

    minutes_of_current = serializers.IntegerField(min_value=1, max_value=SESSION_MINUTES_MAX)
    sites = SessionSiteInputSerializer(many=True, min_length=1, max_length=4)
    waveform = serializers.ChoiceField(choices=Waveform.choices, default=Waveform.DC)
    polarity_reversed = serializers.BooleanField(default=False)
    medium = serializers.ChoiceField(choices=Medium.choices, required=False, allow_null=True, default=None)
    hdss = serializers.IntegerField(min_value=HDSS_MIN, max_value=HDSS_MAX, required=False, allow_null=True,
                                    default=None)
    pain_nprs = serializers.IntegerField(min_value=0, max_value=PAIN_NPRS_MAX, required=False, allow_null=True,
                                         default=None)
    sweat_mg_min = serializers.DecimalField(max_digits=6, decimal_places=1, coerce_to_string=False,
                                            min_value=Decimal(0), required=False,
                                            allow_null=True, default=None)
    sweat_site = serializers.ChoiceField(choices=BodySite.choices, required=False, allow_blank=True, default="")
    side_effects = SideEffectInputSerializer(many=True, required=False, default=list, max_length=7)
    dose_ma_min = serializers.DecimalField(max_digits=5, decimal_places=1, coerce_to_string=False,
                                           min_value=Decimal(0),
                                           max_value=Decimal(MEDICATED_DOSE_MAX_MA_MIN), required=False,
                                           allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


# ---------------------------------------------------------------------------------------------
# Appointments


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
    cancelled_by = serializers.ChoiceField(choices=CancelledBy.choices, allow_blank=True, read_only=True,
                                           help_text="Who cancelled: patient or clinic; empty unless cancelled.")
    confirmed_via = serializers.ChoiceField(choices=ConfirmationChannel.choices, allow_blank=True, read_only=True,
                                            help_text="How the patient confirmed; empty until they do.")

    class Meta:
        model = Appointment
        fields = ["id", "course", "patient", "patient_name", "location", "clinician", "clinician_name", "room",
                  "room_name", "device", "device_name", "starts_at", "ends_at", "local_date", "time_zone",
                  "local_starts_at", "local_ends_at", "status", "cancelled_by", "cancellation_reason",
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
        if not hasattr(appointment, "session_record"):
            return None
        return self._session_record.to_representation(appointment.session_record)


def appointment_etag(appointment: Appointment) -> str:
    return f'"appointment-{appointment.pk}-v{appointment.version}"'


class AppointmentBookSerializer(StrictInputSerializer):
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


# ---------------------------------------------------------------------------------------------
# Availability and whole-course booking (the scheduling engine)


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
