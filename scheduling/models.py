"""Courses of sessions, their appointments and what was done in each session; the subsystems' own models
(the outbox, the waitlist, check-ins) are registered by the imports at the end."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q

from clinic.display import location_time
from clinic.models import Device, Location, PeriodQuerySet, Room, Staff, TimeStampedModel
from patients.models import Patient
from scheduling.scales import HDSS_MAX, HDSS_MIN, PAIN_NPRS_MAX

# Ranges from DESIGN.md, each with its source there.
INITIAL_SESSIONS_MIN, INITIAL_SESSIONS_MAX = 6, 10
SESSION_MINUTES_MIN, SESSION_MINUTES_MAX = 25, 45
SESSIONS_PER_WEEK_MIN, SESSIONS_PER_WEEK_MAX = 1, 5
SESSIONS_PER_WEEK_DEFAULT = 3
MAINTENANCE_INTERVAL_WEEKS_MIN, MAINTENANCE_INTERVAL_WEEKS_MAX = 1, 4
MAINTENANCE_INTERVAL_WEEKS_DEFAULT = 2
MAINTENANCE_SESSIONS_MIN, MAINTENANCE_SESSIONS_MAX = 1, 52
MAINTENANCE_SESSIONS_DEFAULT = 6
SIDE_EFFECT_GRADE_MIN, SIDE_EFFECT_GRADE_MAX = 1, 3
MEDICATED_DOSE_MAX_MA_MIN = 80
MEDICATED_DOSE_DEFAULT_MA_MIN = 40
CURRENT_MA_MAX = 30  # no iontophoresis unit goes above this; clinical limits are per location


class Indication(models.TextChoices):
    HYPERHIDROSIS = "hyperhidrosis", "Hyperhidrosis (tap water)"
    MUSCULOSKELETAL = "musculoskeletal", "Musculoskeletal (medicated)"


class BodySite(models.TextChoices):
    PALMS = "palms", "Palms"
    SOLES = "soles", "Soles"
    AXILLAE = "axillae", "Axillae"
    OTHER = "other", "Other"


class CoursePhase(models.TextChoices):
    INITIAL = "initial", "Initial course"
    MAINTENANCE = "maintenance", "Maintenance"


class CourseStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    DISCONTINUED = "discontinued", "Discontinued"


class Course(TimeStampedModel):
    """A plan of sessions for one indication and body sites (FHIR CarePlan)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="courses")
    indication = models.CharField(max_length=20, choices=Indication.choices)
    body_sites = ArrayField(models.CharField(max_length=10, choices=BodySite.choices), size=4)
    body_site_other = models.CharField("Other site: where", max_length=120, blank=True,
                                       help_text="Where, when the site is 'other'.")
    medication = models.CharField(
        max_length=120, blank=True, help_text="Drug and strength for medicated courses."
    )
    phase = models.CharField(max_length=12, choices=CoursePhase.choices, default=CoursePhase.INITIAL)
    follows = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="maintenance_courses",
        help_text="The completed initial course a maintenance course follows.",
    )
    planned_sessions = models.PositiveSmallIntegerField(
        "Sessions planned", help_text="6-10 for an initial course; 1-52 for maintenance.")
    session_minutes = models.PositiveSmallIntegerField(
        "Minutes a session (25-45)", default=30,
        validators=[MinValueValidator(SESSION_MINUTES_MIN), MaxValueValidator(SESSION_MINUTES_MAX)],
    )
    sessions_per_week = models.PositiveSmallIntegerField(
        "Sessions a week (1-5)", default=SESSIONS_PER_WEEK_DEFAULT,
        validators=[MinValueValidator(SESSIONS_PER_WEEK_MIN), MaxValueValidator(SESSIONS_PER_WEEK_MAX)],
    )
    maintenance_interval_weeks = models.PositiveSmallIntegerField(
        "Weeks between maintenance sessions (1-4)", default=MAINTENANCE_INTERVAL_WEEKS_DEFAULT,
        validators=[
            MinValueValidator(MAINTENANCE_INTERVAL_WEEKS_MIN), MaxValueValidator(MAINTENANCE_INTERVAL_WEEKS_MAX)
        ],
    )
    status = models.CharField(max_length=12, choices=CourseStatus.choices, default=CourseStatus.PLANNED)
    discontinued_reason = models.TextField(blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The local day of its first fulfilled session, kept as sessions are recorded (session_record_create).
    started_on = models.DateField(null=True, editable=False)
    # The response at the end of an initial course, kept when it ends (scheduling.records.outcome).
    outcome_judged = models.BooleanField(null=True, editable=False)
    outcome_responded = models.BooleanField(null=True, editable=False)
    outcome_sessions_to_response = models.PositiveSmallIntegerField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(phase=CoursePhase.MAINTENANCE)
                | Q(planned_sessions__gte=INITIAL_SESSIONS_MIN, planned_sessions__lte=INITIAL_SESSIONS_MAX),
                name="course_initial_plans_6_to_10_sessions",
            ),
            models.CheckConstraint(
                condition=Q(phase=CoursePhase.INITIAL)
                | Q(planned_sessions__gte=MAINTENANCE_SESSIONS_MIN, planned_sessions__lte=MAINTENANCE_SESSIONS_MAX,
                    follows__isnull=False),
                name="course_maintenance_follows_a_course",
            ),
            models.CheckConstraint(
                condition=Q(session_minutes__gte=SESSION_MINUTES_MIN, session_minutes__lte=SESSION_MINUTES_MAX),
                name="course_session_minutes_25_to_45",
            ),
            models.CheckConstraint(
                condition=Q(sessions_per_week__gte=SESSIONS_PER_WEEK_MIN, sessions_per_week__lte=SESSIONS_PER_WEEK_MAX),
                name="course_sessions_per_week_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(
                    maintenance_interval_weeks__gte=MAINTENANCE_INTERVAL_WEEKS_MIN,
                    maintenance_interval_weeks__lte=MAINTENANCE_INTERVAL_WEEKS_MAX,
                ),
                name="course_maintenance_interval_1_to_4_weeks",
            ),
            models.CheckConstraint(
                condition=~Q(status=CourseStatus.DISCONTINUED) | ~Q(discontinued_reason=""),
                name="course_discontinued_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(indication=Indication.MUSCULOSKELETAL) | ~Q(medication=""),
                name="course_medicated_names_medication",
            ),
            models.CheckConstraint(
                condition=Q(outcome_judged__isnull=True)
                | Q(phase=CoursePhase.INITIAL, status__in=(CourseStatus.COMPLETED, CourseStatus.DISCONTINUED)),
                name="course_outcome_only_at_the_end",
            ),
            models.CheckConstraint(
                condition=(~Q(outcome_responded=True) | Q(outcome_judged=True))
                & (Q(outcome_sessions_to_response__isnull=True) | Q(outcome_responded=True)),
                name="course_outcome_response_is_judged",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "status"], name="course_patient_status"),
            # The course lists, newest first a page at a time, read in that order instead of sorting every course
            # of the locations for each page (the admin's list 41 -> 1 ms at 1,000,000 appointments).
            models.Index(fields=["created_at", "id"], name="course_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_indication_display()} {self.get_phase_display().lower()} for {self.patient}"

    @property
    def is_medicated(self) -> bool:
        return self.indication == Indication.MUSCULOSKELETAL

    @property
    def is_open(self) -> bool:
        return self.status in (CourseStatus.PLANNED, CourseStatus.ACTIVE)


class AppointmentStatus(models.TextChoices):
    """FHIR Appointment.status, the subset a clinic uses."""

    BOOKED = "booked", "Booked"
    ARRIVED = "arrived", "Arrived"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"
    NOSHOW = "noshow", "No-show"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class DisplayState(models.TextChoices):
    """What a session shows on every screen (cards, lists, its page, the patient page): its status, with a
    booking the patient confirmed told apart, as confirmation is a fact beside the status (DESIGN.md)."""

    BOOKED = "booked", "Booked"
    CONFIRMED = "confirmed", "Confirmed by the patient"
    ARRIVED = "arrived", "Arrived"
    FULFILLED = "fulfilled", "Done"
    NOSHOW = "noshow", "No-show"
    CANCELLED = "cancelled", "Cancelled"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


# These hold their time: a cancelled or no-show appointment frees its slot.
ACTIVE_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED)
# These still wait for something: the patient to come, or the session's record.
PENDING_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)


class CancelledBy(models.TextChoices):
    PATIENT = "patient", "Patient"
    CLINIC = "clinic", "Clinic"


class ConfirmationChannel(models.TextChoices):
    """How the patient confirmed: told the clinic, or answered the email's own link."""

    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    IN_PERSON = "in_person", "In person"
    SMS = "sms", "SMS"
    EMAIL_LINK = "email link", "Email link"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


def _no_overlap(field: str) -> ExclusionConstraint:
    return ExclusionConstraint(
        name=f"appointment_no_overlap_per_{field}",
        expressions=[
            (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
            (field, RangeOperators.EQUAL),
        ],
        condition=Q(status__in=ACTIVE_STATUSES),
        violation_error_message=f"Another session holds this {field} at that time.",
    )


class Appointment(TimeStampedModel):
    """One booked session (FHIR Appointment). Times are UTC; the location's zone shows them."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    clinician = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="appointments")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    local_date = models.DateField(help_text="The day of the session at the location (its time zone).")
    status = models.CharField(max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    cancelled_by = models.CharField(max_length=10, choices=CancelledBy.choices, blank=True)
    cancellation_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When the patient confirmed.")
    confirmed_via = models.CharField(max_length=20, choices=ConfirmationChannel.choices, blank=True)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
                                  blank=True, help_text="Empty when the patient booked it through a link.")
    version = models.PositiveIntegerField(default=1, help_text="Raised on every change.")
    moved_by_patient_at = models.DateTimeField(null=True, blank=True, help_text="Last moved by the patient's link.")

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=F("starts_at") + timedelta(minutes=SESSION_MINUTES_MIN))
                & Q(ends_at__lte=F("starts_at") + timedelta(minutes=SESSION_MINUTES_MAX)),
                name="appointment_lasts_25_to_45_minutes",
            ),
            models.CheckConstraint(
                condition=Q(status=AppointmentStatus.CANCELLED, cancelled_by__in=CancelledBy.values)
                | (~Q(status=AppointmentStatus.CANCELLED) & Q(cancelled_by="")),
                name="appointment_cancellation_names_who",
            ),
            models.UniqueConstraint(  # and so one a day per course
                fields=["patient", "local_date"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="appointment_one_session_a_day_per_patient",
                violation_error_message="The patient already has a session that day.",
            ),
            _no_overlap("clinician"),
            _no_overlap("room"),
            _no_overlap("device"),
            _no_overlap("patient"),
        ]
        indexes = [
            models.Index(fields=["location", "starts_at"], name="appointment_location_start"),
            models.Index(fields=["clinician", "starts_at"], name="appointment_clinician_start"),
            models.Index(fields=["course", "starts_at"], name="appointment_course_start"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_start"),
            # A booking's facts read its rooms' and devices' sessions around its times (booking_facts): without
            # these PostgreSQL found them through the exclusion constraints' GiST indexes, 34 ms at 10,000,000.
            models.Index(fields=["room", "starts_at"], name="appointment_room_start"),
            models.Index(fields=["device", "starts_at"], name="appointment_device_start"),
            # The lists of every location in time order (a manager's appointment list, the session records):
            # a page is read from here instead of sorting every session (bench/README.md).
            models.Index(fields=["starts_at", "id"], name="appointment_start"),
            # The attendance report's patients with repeated no-shows: a twentieth of the sessions.
            models.Index(fields=["location", "starts_at"], condition=Q(status=AppointmentStatus.NOSHOW),
                         name="appointment_noshow_start"),
            # The booked and arrived sessions, in time order: the front desk's "Booked" and "Arrived" filters,
            # alone or with a day filter, and the sessions waiting for their record. Only the sessions still to come
            # and any left unmarked are pending, a few in a hundred; without it a list that finds none (booked
            # before today) walked every session of the table (bench/README.md).
            models.Index(fields=["starts_at", "id"], condition=Q(status__in=PENDING_STATUSES),
                         name="appointment_pending_start"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {location_time(self.location, self.starts_at)} ({self.display_state_label})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def display_state(self) -> DisplayState:
        if self.status == AppointmentStatus.BOOKED and self.confirmed_at is not None:
            return DisplayState.CONFIRMED
        return DisplayState(self.status)

    @property
    def display_state_label(self) -> str:
        return self.display_state.label

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class Waveform(models.TextChoices):
    DC = "dc", "Direct current"
    PULSED_DC = "pulsed_dc", "Pulsed direct current"


class Medium(models.TextChoices):
    TAP = "tap", "Tap water"
    TAP_BICARBONATE = "tap_bicarbonate", "Tap water with bicarbonate"
    MINERAL = "mineral", "Mineral water"
    GLYCOPYRROLATE = "glycopyrrolate", "Glycopyrrolate solution"
    DRUG = "drug", "Drug solution"


class SessionRecord(TimeStampedModel):
    """What was done in one fulfilled session and how the patient was (FHIR Procedure + Observation)."""

    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="session_record")
    minutes_of_current = models.PositiveSmallIntegerField(
        "Minutes of current", validators=[MinValueValidator(1), MaxValueValidator(SESSION_MINUTES_MAX)],
        help_text="How long the current ran, 1-45 minutes (may be shorter than the session).",
    )
    waveform = models.CharField(max_length=10, choices=Waveform.choices, default=Waveform.DC)
    polarity_reversed = models.BooleanField("Polarity reversed", default=False,
                                            help_text="Polarity reversed mid-session.")
    medium = models.CharField("Water or medium", max_length=20, choices=Medium.choices, default=Medium.TAP)
    dose_ma_min = models.DecimalField(
        "Dose (mA·min)", max_digits=5, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MEDICATED_DOSE_MAX_MA_MIN)],
        help_text="Delivered dose of a medicated session, mA·min (never above 80).",
    )
    hdss = models.PositiveSmallIntegerField(
        "HDSS (1-4)", null=True, blank=True, validators=[MinValueValidator(HDSS_MIN), MaxValueValidator(HDSS_MAX)],
        help_text="Hyperhidrosis Disease Severity Scale, 1 (never noticeable) to 4 (intolerable).",
    )
    pain_nprs = models.PositiveSmallIntegerField(
        "Pain (0-10)", null=True, blank=True, validators=[MaxValueValidator(PAIN_NPRS_MAX)],
        help_text="Pain on the numeric rating scale (NPRS), 0 (none) to 10 (worst imaginable).",
    )
    sweat_mg_min = models.DecimalField(
        "Sweat rate (mg/min)", max_digits=6, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(0)],
        help_text="Gravimetric sweat rate, mg/min.",
    )
    sweat_site = models.CharField("Sweat measured at", max_length=10, choices=BodySite.choices, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["appointment__starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes_of_current__gte=1, minutes_of_current__lte=SESSION_MINUTES_MAX),
                name="session_minutes_of_current_range",
            ),
            models.CheckConstraint(
                condition=Q(dose_ma_min__isnull=True)
                | Q(dose_ma_min__gte=0, dose_ma_min__lte=MEDICATED_DOSE_MAX_MA_MIN),
                name="session_dose_at_most_80_ma_min",
            ),
            models.CheckConstraint(condition=Q(hdss__isnull=True) | Q(hdss__gte=HDSS_MIN, hdss__lte=HDSS_MAX),
                                   name="session_hdss_1_to_4"),
            models.CheckConstraint(condition=Q(pain_nprs__isnull=True) | Q(pain_nprs__lte=PAIN_NPRS_MAX),
                                   name="session_pain_0_to_10"),
            models.CheckConstraint(condition=Q(sweat_mg_min__isnull=True) | Q(sweat_mg_min__gte=0),
                                   name="session_sweat_not_negative"),
            models.CheckConstraint(condition=Q(sweat_mg_min__isnull=True) | ~Q(sweat_site=""),
                                   name="session_sweat_names_site"),
        ]
        # The admin's date hierarchy of the records (clinic.models.PeriodQuerySet): the first and last record
        # and one of each year, month or day, each read from here instead of every record.
        indexes = [models.Index(fields=["created_at"], name="sessionrecord_created")]

    def __str__(self) -> str:
        return f"Session record of {self.appointment}"


class SessionSite(models.Model):
    """The current delivered at one body site in a session."""

    record = models.ForeignKey(SessionRecord, on_delete=models.CASCADE, related_name="sites")
    site = models.CharField(max_length=10, choices=BodySite.choices)
    site_other = models.CharField("Other site: where", max_length=120, blank=True)
    current_ma = models.DecimalField(
        "Current (mA)", help_text="The current at this site, mA.", max_digits=4, decimal_places=1,
        validators=[MinValueValidator(0.1), MaxValueValidator(CURRENT_MA_MAX)],
    )

    class Meta:
        ordering = ["record", "site"]
        constraints = [
            models.UniqueConstraint(fields=["record", "site"], name="session_site_once_per_record"),
            models.CheckConstraint(condition=Q(current_ma__gt=0, current_ma__lte=CURRENT_MA_MAX),
                                   name="session_site_current_range"),
            models.CheckConstraint(condition=~Q(site=BodySite.OTHER) | ~Q(site_other=""),
                                   name="session_site_other_named"),
        ]

    def __str__(self) -> str:
        return f"{self.get_site_display()} {self.current_ma} mA"


class SideEffectKind(models.TextChoices):
    TINGLING = "tingling", "Tingling"
    ITCHING = "itching", "Itching"
    ERYTHEMA = "erythema", "Erythema"
    DRYNESS = "dryness", "Dryness"
    BLISTERING = "blistering", "Blistering"
    BURN = "burn", "Burn"
    OTHER = "other", "Other"


class SideEffect(models.Model):
    """A side effect seen in a session, graded 1 (redness, no pain) to 3 (ulceration or limiting)."""

    record = models.ForeignKey(SessionRecord, on_delete=models.CASCADE, related_name="side_effects")
    kind = models.CharField("Side effect", max_length=12, choices=SideEffectKind.choices)
    kind_other = models.CharField("Other side effect: what", max_length=120, blank=True)
    grade = models.PositiveSmallIntegerField(
        "Grade (1-3)", help_text="1 redness without pain, 2 blisters or pain not limiting, 3 ulceration or limiting.",
        validators=[MinValueValidator(SIDE_EFFECT_GRADE_MIN), MaxValueValidator(SIDE_EFFECT_GRADE_MAX)]
    )

    class Meta:
        ordering = ["record", "-grade", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["record", "kind"], name="side_effect_once_per_record",
                                    condition=~Q(kind=SideEffectKind.OTHER)),
            models.CheckConstraint(condition=Q(grade__gte=SIDE_EFFECT_GRADE_MIN, grade__lte=SIDE_EFFECT_GRADE_MAX),
                                  name="side_effect_grade_1_to_3"),
            models.CheckConstraint(condition=~Q(kind=SideEffectKind.OTHER) | ~Q(kind_other=""),
                                   name="side_effect_other_named"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} grade {self.grade}"

    @property
    def raises_flag(self) -> bool:
        """Grade 2+ blistering, or any burn, flags the course (DESIGN.md)."""
        return self.kind == SideEffectKind.BURN or (self.kind == SideEffectKind.BLISTERING and self.grade >= 2)


from scheduling.checkins.models import CheckIn  # noqa: E402, F401  (registers the check-ins with Django)
from scheduling.reminders.models import (  # noqa: E402, F401
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from scheduling.reports.models import AttendanceCount, UsageCount, UsageKind, UsageWeek  # noqa: E402, F401
from scheduling.waitlist.models import WaitlistEntry, WaitlistOffer, WaitlistSlot  # noqa: E402, F401
