"""Writes of courses, appointments and session records: every booking rule lives here.

The admin, the API and Celery tasks all call these functions. Each runs in one transaction,
takes the locks its rule needs, validates in the clinic's words, and leaves the last word on
overlaps to PostgreSQL's exclusion constraints, whose violations come back as the same
ConflictError a front-desk person would have seen had the other booking been first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from clinic.errors import ConflictError
from clinic.models import Device, Location, OpeningHours, Room, Staff, StaffRole, Weekday, WorkingHours
from clinic.selectors import closures_hitting, staff_is_clinical
from clinic.services import full_clean_and_save
from patients.models import AuditAction, Patient
from patients.services import audit_record
from scheduling import notifications
from scheduling.availability import (
    Anchor,
    CourseFacts,
    CoursePlan,
    PlannedSession,
    Preferences,
    UnplacedSession,
    availability_grid,
    course_plan,
    week_start,
)
from scheduling.models import (
    ACTIVE_STATUSES,
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
    SESSIONS_PER_WEEK_DEFAULT,
    SESSIONS_PER_WEEK_MAX,
    Appointment,
    AppointmentStatus,
    BodySite,
    CancelledBy,
    ConfirmationChannel,
    Course,
    CoursePhase,
    CourseStatus,
    Indication,
    Medium,
    SessionRecord,
    SessionSite,
    SideEffect,
)
from scheduling.rules import course_refusal, screening_check
from scheduling.selectors import (
    MAINTENANCE_NOT_DUE,
    PatientLinkUse,
    appointment_arrival_refusal,
    appointment_is_upcoming,
    appointment_late_cancellation_message,
    appointment_noshow_refusal,
    appointment_patient_link_use,
    course_annotate_maintenance,
    course_maintenance_due_on,
)

# PostgreSQL's SQLSTATEs for a refused overlap and a second session on the same day.
EXCLUSION_VIOLATION = "23P01"
UNIQUE_VIOLATION = "23505"
MEDICATED_CURRENT_MAX_MA = Decimal(4)  # medicated iontophoresis runs at 1-4 mA (DESIGN.md)
CHILD_AGE_LIMIT = 18
COURSE_END_REFUSAL = "Only a clinician or a manager ends or extends a course."


# Field validators run here; the table's constraints are checked by PostgreSQL on save and by
# the explicit rules above (validating them in Python costs a query per constraint).
_save = partial(full_clean_and_save, validate_constraints=False)


def _span(location: Location, starts_at: datetime, ends_at: datetime) -> str:
    start, end = location.local(starts_at), location.local(ends_at)
    return f"{start:%a %d %b} {start:%H:%M}-{end:%H:%M}"


# ---------------------------------------------------------------------------------------------
# Courses


@transaction.atomic
def course_create(
    *, patient: Patient, location: Location, indication: str, body_sites: list[str], planned_sessions: int,
    created_by, session_minutes: int = 30, sessions_per_week: int = SESSIONS_PER_WEEK_DEFAULT, medication: str = "",
    body_site_other: str = "",
) -> Course:
    """Plan an initial course of INITIAL_SESSIONS_MIN to INITIAL_SESSIONS_MAX sessions."""
    if patient.is_archived:
        raise ValidationError({"patient": "This patient is archived."})
    if not INITIAL_SESSIONS_MIN <= planned_sessions <= INITIAL_SESSIONS_MAX:
        raise ValidationError({"planned_sessions": f"An initial course has {INITIAL_SESSIONS_MIN} to "
                                                   f"{INITIAL_SESSIONS_MAX} sessions."})
    if not body_sites:
        raise ValidationError({"body_sites": "Choose at least one body site."})
    if BodySite.OTHER in body_sites and not body_site_other.strip():
        raise ValidationError({"body_site_other": "Say which site 'other' is."})
    if indication == Indication.MUSCULOSKELETAL and not medication.strip():
        raise ValidationError({"medication": "A medicated course names its drug, e.g. dexamethasone 4 mg/mL."})
    if indication == Indication.HYPERHIDROSIS and medication.strip():
        raise ValidationError({"medication": "Tap-water courses use no drug; choose the musculoskeletal indication."})
    return _save(Course(
        patient=patient, location=location, indication=indication, body_sites=sorted(set(body_sites)),
        body_site_other=body_site_other.strip(), medication=medication.strip(), phase=CoursePhase.INITIAL,
        planned_sessions=planned_sessions, session_minutes=session_minutes, sessions_per_week=sessions_per_week,
        created_by=created_by,
    ))


def _locked_course(course: Course) -> Course:
    return Course.objects.select_for_update().select_related("patient", "location").get(pk=course.pk)


def _require_clinical(user, refusal: str) -> None:
    """Treatment is clinical: the same rule for every entry point, the admin, the API and the pages."""
    if not staff_is_clinical(user):
        raise PermissionError(refusal)


@transaction.atomic
def course_complete(*, course: Course, completed_by) -> Course:
    _require_clinical(completed_by, COURSE_END_REFUSAL)
    course = _locked_course(course)
    if not course.is_open:
        raise ValidationError(f"This course is already {course.get_status_display().lower()}.")
    if not course.appointments.filter(status=AppointmentStatus.FULFILLED).exists():
        raise ValidationError("A course with no session done cannot be completed; discontinue it instead.")
    pending = course.appointments.filter(status__in=(AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)).count()
    if pending:
        raise ValidationError(f"{pending} session{'s are' if pending != 1 else ' is'} still booked; "
                              "record or cancel them first.")
    course.status = CourseStatus.COMPLETED
    course.ended_at = timezone.now()
    return _save(course)


@transaction.atomic
def course_discontinue(*, course: Course, discontinued_by, reason: str) -> Course:
    """Stop a course early; its booked sessions are cancelled by the clinic with the same reason."""
    _require_clinical(discontinued_by, COURSE_END_REFUSAL)
    course = _locked_course(course)
    if not course.is_open:
        raise ValidationError(f"This course is already {course.get_status_display().lower()}.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the course stops."})
    for appointment in course.appointments.filter(status__in=(AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)):
        appointment_cancel(appointment=appointment, cancelled_by=discontinued_by, by=CancelledBy.CLINIC,
                           reason=f"Course discontinued: {reason.strip()}"[:200])
    course.status = CourseStatus.DISCONTINUED
    course.discontinued_reason = reason.strip()
    course.ended_at = timezone.now()
    return _save(course)


@transaction.atomic
def course_start_maintenance(*, course: Course, created_by, interval_weeks: int = MAINTENANCE_INTERVAL_WEEKS_DEFAULT,
                             planned_sessions: int = MAINTENANCE_SESSIONS_DEFAULT) -> Course:
    """Plan maintenance after a completed initial course: single sessions a few weeks apart."""
    _require_clinical(created_by, COURSE_END_REFUSAL)
    course = _locked_course(course)
    if course.phase != CoursePhase.INITIAL or course.status != CourseStatus.COMPLETED:
        raise ValidationError("Maintenance follows a completed initial course.")
    if course.maintenance_courses.filter(status__in=(CourseStatus.PLANNED, CourseStatus.ACTIVE)).exists():
        raise ValidationError("This course already has a maintenance plan running.")
    if not MAINTENANCE_INTERVAL_WEEKS_MIN <= interval_weeks <= MAINTENANCE_INTERVAL_WEEKS_MAX:
        raise ValidationError({"interval_weeks": f"Maintenance sessions are {MAINTENANCE_INTERVAL_WEEKS_MIN} to "
                                                 f"{MAINTENANCE_INTERVAL_WEEKS_MAX} weeks apart."})
    if not MAINTENANCE_SESSIONS_MIN <= planned_sessions <= MAINTENANCE_SESSIONS_MAX:
        raise ValidationError({"planned_sessions": f"Plan {MAINTENANCE_SESSIONS_MIN} to {MAINTENANCE_SESSIONS_MAX} "
                                                   "maintenance sessions."})
    return _save(Course(
        patient=course.patient, location=course.location, indication=course.indication,
        body_sites=course.body_sites, body_site_other=course.body_site_other, medication=course.medication,
        phase=CoursePhase.MAINTENANCE, follows=course, planned_sessions=planned_sessions,
        session_minutes=course.session_minutes, sessions_per_week=1, maintenance_interval_weeks=interval_weeks,
        created_by=created_by,
    ))


# ---------------------------------------------------------------------------------------------
# Appointments: the booking rules


@dataclass
class _Checked:
    """Facts one booking call has already read or locked, so a course booking reads each once.

    The rules stay the same for one session or ten; only their reads are shared. Locks taken in a
    transaction hold until it ends, so a resource locked for one session is locked for the next.
    """

    screened_courses: set[int] = field(default_factory=set)
    works_at: dict[tuple[int, int], bool] = field(default_factory=dict)
    opening: dict[int, list[OpeningHours]] = field(default_factory=dict)
    working: dict[tuple[int, int], list[WorkingHours]] = field(default_factory=dict)
    locked: set[tuple[str, int]] = field(default_factory=set)


def _check_resources(appointment: Appointment, checked: _Checked) -> None:
    location = appointment.location
    errors = {}
    if appointment.room.location_id != location.pk:
        errors["room"] = f"{appointment.room.name} is not at {location}."
    elif not appointment.room.is_active:
        errors["room"] = f"{appointment.room.name} is not in use."
    if appointment.device.location_id != location.pk:
        errors["device"] = f"{appointment.device} is not at {location}."
    elif not appointment.device.in_service:
        errors["device"] = f"{appointment.device} is out of service."
    clinician = appointment.clinician
    if clinician.role != StaffRole.CLINICIAN or not clinician.is_active:
        errors["clinician"] = f"{clinician} is not an active clinician."
    else:
        key = (clinician.pk, location.pk)
        if key not in checked.works_at:
            checked.works_at[key] = clinician.locations.filter(pk=location.pk).exists()
        if not checked.works_at[key]:
            errors["clinician"] = f"{clinician} does not work at {location}."
    if errors:
        raise ValidationError(errors)


def _check_hours(appointment: Appointment, checked: _Checked) -> None:
    location = appointment.location
    start, end = location.local(appointment.starts_at), location.local(appointment.ends_at)
    span = _span(location, appointment.starts_at, appointment.ends_at)
    if start.date() != end.date():
        raise ValidationError({"starts_at": f"{span} runs past midnight."})
    weekday = start.weekday()
    if location.pk not in checked.opening:
        checked.opening[location.pk] = list(location.opening_hours.order_by("weekday", "opens_at"))
    opening = [hours for hours in checked.opening[location.pk] if hours.weekday == weekday]
    if not any(hours.opens_at <= start.time() and end.time() <= hours.closes_at for hours in opening):
        if opening:
            open_text = ", ".join(f"{h.opens_at:%H:%M}-{h.closes_at:%H:%M}" for h in opening)
            raise ValidationError({"starts_at": f"{span} is outside the opening hours of {location} "
                                                f"({Weekday(weekday).label} {open_text})."})
        raise ValidationError({"starts_at": f"{location} is closed on {Weekday(weekday).label}s."})
    key = (appointment.clinician_id, location.pk)
    if key not in checked.working:
        checked.working[key] = list(appointment.clinician.working_hours.filter(location=location))
    working = checked.working[key]
    if working:
        today = [hours for hours in working if hours.weekday == weekday]
        if not any(hours.starts_at <= start.time() and end.time() <= hours.ends_at for hours in today):
            raise ValidationError({"clinician": f"{appointment.clinician} does not work {span}."})
    closure = closures_hitting(
        location=location, starts_at=appointment.starts_at, ends_at=appointment.ends_at,
        room=appointment.room, device=appointment.device, clinician=appointment.clinician,
    ).first()
    if closure is not None:
        what = closure.room or closure.device or closure.clinician or location
        raise ValidationError({"starts_at": f"{what} is closed {_span(location, closure.starts_at, closure.ends_at)}"
                                            f" ({closure.reason})."})


def _check_course(appointment: Appointment, course: Course) -> None:
    if not course.is_open:
        raise ValidationError({"course": f"This course is {course.get_status_display().lower()}."})
    if course.patient.is_archived:
        raise ValidationError({"patient": "This patient is archived."})
    others = course.appointments.filter(status__in=ACTIVE_STATUSES).exclude(pk=appointment.pk)
    week_start = appointment.local_date - timedelta(days=appointment.local_date.weekday())
    # The three counts in one query; the session already on that day is read only to name it.
    counts = others.aggregate(
        total=Count("pk"), same_day=Count("pk", filter=Q(local_date=appointment.local_date)),
        in_week=Count("pk", filter=Q(local_date__gte=week_start, local_date__lt=week_start + timedelta(days=7))),
    )
    if appointment.pk is None and counts["total"] >= course.planned_sessions:
        raise ValidationError({"course": f"All {course.planned_sessions} planned sessions of this course are "
                                         "already booked."})
    if counts["same_day"]:
        same_day = others.filter(local_date=appointment.local_date).first()
        raise ConflictError(f"This course already has a session on {appointment.local_date:%a %d %b} "
                            f"({_span(course.location, same_day.starts_at, same_day.ends_at)}); "
                            "one session a day at most.")
    in_week = counts["in_week"]
    if in_week >= SESSIONS_PER_WEEK_MAX:
        raise ValidationError({"starts_at": f"This course already has {in_week} sessions in the week of "
                                            f"{week_start:%d %b}; at most {SESSIONS_PER_WEEK_MAX} a week."})


def _check_screening(course: Course, checked: _Checked | None = None) -> None:
    if checked is not None and course.pk in checked.screened_courses:
        return
    screening_check(course)
    if checked is not None:
        checked.screened_courses.add(course.pk)


def conflicting_appointments(appointment: Appointment):
    """Active appointments that collide with this one: the same clinician or patient at an overlapping
    time, or the same room or device within the location's turnover buffer."""
    buffer = timedelta(minutes=appointment.location.turnover_minutes)
    plain = Q(starts_at__lt=appointment.ends_at, ends_at__gt=appointment.starts_at)
    buffered = Q(starts_at__lt=appointment.ends_at + buffer, ends_at__gt=appointment.starts_at - buffer)
    # No session lasts longer than SESSION_MINUTES_MAX: this bound on starts_at lets the indexes on
    # (clinician|patient|location, starts_at) read only the hours around the booking, whatever the history.
    # Rooms and devices belong to one location, so their clashes are found through its index.
    recent = Q(starts_at__gte=appointment.starts_at - buffer - timedelta(minutes=SESSION_MINUTES_MAX))
    return (
        Appointment.objects.filter(status__in=ACTIVE_STATUSES)
        .filter(recent)
        .filter(
            (plain & (Q(clinician=appointment.clinician_id) | Q(patient=appointment.patient_id)))
            | (buffered & Q(location=appointment.location_id)
               & (Q(room=appointment.room_id) | Q(device=appointment.device_id)))
        )
        .exclude(pk=appointment.pk)
        .select_related("room", "device", "clinician__user", "location")
        .order_by("starts_at")
    )


def _conflict_error(appointment: Appointment) -> ConflictError | None:
    """The clash in the front desk's words, naming the time and resource but never another patient."""
    other = conflicting_appointments(appointment).first()
    if other is None:
        return None
    span = _span(other.location, other.starts_at, other.ends_at)
    if other.patient_id == appointment.patient_id:
        return ConflictError(f"The patient already has a session {span}.", code="patient_busy")
    if other.clinician_id == appointment.clinician_id and other.starts_at < appointment.ends_at \
            and other.ends_at > appointment.starts_at:
        return ConflictError(f"{other.clinician} is booked {span} by another session.", code="clinician_busy")
    if other.room_id == appointment.room_id:
        return ConflictError(f"{other.room.name} is booked {span} by another session"
                             f" (plus {appointment.location.turnover_minutes} minutes turnover).", code="room_busy")
    return ConflictError(f"{other.device} is booked {span} by another session"
                         f" (plus {appointment.location.turnover_minutes} minutes turnover).", code="device_busy")


def _lock_resources(clinician: Staff, room: Room, device: Device, checked: _Checked) -> None:
    """Serialize bookings that share a resource, always in the same order (no deadlock).

    The exclusion constraints would refuse an overlap anyway; the locks also cover the turnover
    buffer, which no constraint knows, so two desks cannot fill the same gap at once.
    """
    for model, pk in ((Staff, clinician.pk), (Room, room.pk), (Device, device.pk)):
        if (model.__name__, pk) not in checked.locked:
            model.objects.select_for_update().filter(pk=pk).first()
            checked.locked.add((model.__name__, pk))


def _validate_and_save(appointment: Appointment, course: Course, *, past: bool = False,
                       checked: _Checked | None = None) -> Appointment:
    checked = checked or _Checked()
    if timezone.is_naive(appointment.starts_at):
        raise ValidationError({"starts_at": "Give the time with its time zone."})
    if not past and appointment.starts_at < timezone.now():
        raise ValidationError({"starts_at": "That time has passed."})
    if past and appointment.ends_at > timezone.now():
        raise ValidationError({"starts_at": "Only a session that has already ended can be entered afterwards."})
    appointment.local_date = appointment.location.local(appointment.starts_at).date()
    _check_resources(appointment, checked)
    _check_hours(appointment, checked)
    _check_course(appointment, course)
    _lock_resources(appointment.clinician, appointment.room, appointment.device, checked)
    conflict = _conflict_error(appointment)
    if conflict is not None:
        raise conflict
    # The related rows were loaded and checked above (and PostgreSQL holds the foreign keys):
    # validating each foreign key again would cost a query apiece, eight a booking.
    appointment.full_clean(exclude=["course", "patient", "location", "clinician", "room", "device", "booked_by",
                                    "status_changed_by"], validate_constraints=False)
    try:
        with transaction.atomic():
            appointment.save()
    except IntegrityError as error:
        if getattr(error.__cause__, "pgcode", None) not in (EXCLUSION_VIOLATION, UNIQUE_VIOLATION):
            raise
        # Another transaction won the race: it has committed, so we can name what it holds.
        conflict = _conflict_error(appointment)
        if conflict is None:
            raise ConflictError("Another booking took this time a moment ago; choose another time.") from error
        raise conflict from error
    return appointment


def _book_one(*, course: Course, clinician: Staff, room: Room, device: Device, starts_at: datetime,
              booked_by, past: bool = False, checked: _Checked | None = None) -> Appointment:
    """Every booking rule for one session; the caller holds the course lock (see _locked_course)
    and tells the patient once for all it booked."""
    checked = checked or _Checked()
    _check_screening(course, checked)
    appointment = Appointment(
        course=course, patient=course.patient, location=course.location, clinician=clinician, room=room,
        device=device, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=course.session_minutes),
        booked_by=booked_by,
    )
    _validate_and_save(appointment, course, past=past, checked=checked)
    audit_record(actor=booked_by, action=AuditAction.CREATE, patient=course.patient, obj=appointment)
    return appointment


@transaction.atomic
def appointment_enter_past(*, course: Course, clinician: Staff, room: Room, device: Device, starts_at: datetime,
                           entered_by) -> Appointment:
    """Enter a session that already took place (from a paper diary or a former system), so its
    session record can follow. Every booking rule applies but the time lies in the past; no
    patient message is sent for it."""
    course = _locked_course(course)
    return _book_one(course=course, clinician=clinician, room=room, device=device, starts_at=starts_at,
                     booked_by=entered_by, past=True)


@transaction.atomic
def appointment_book(*, course: Course, clinician: Staff, room: Room, device: Device, starts_at: datetime,
                     booked_by) -> Appointment:
    """Book one session of a course with a clinician, room and device at the course's location."""
    course = _locked_course(course)
    appointment = _book_one(course=course, clinician=clinician, room=room, device=device, starts_at=starts_at,
                            booked_by=booked_by)
    notifications.notifications_on_booked(appointments=[appointment])
    return appointment


def _locked_appointment(appointment: Appointment, expected_version: int | None = None) -> Appointment:
    locked = Appointment.objects.select_for_update().select_related("location", "course", "patient").get(
        pk=appointment.pk
    )
    if expected_version is not None and locked.version != expected_version:
        raise ConflictError("This appointment was changed by someone else; reload it and try again.",
                            code="version_mismatch")
    return locked


def _set_status(appointment: Appointment, status: str, by) -> None:
    audit_record(actor=by, action=AuditAction.UPDATE, patient=appointment.patient, obj=appointment,
                 changes={"status": (appointment.status, status)})
    appointment.status = status
    appointment.status_changed_at = timezone.now()
    appointment.status_changed_by = by
    appointment.version += 1


@transaction.atomic
def appointment_reschedule(*, appointment: Appointment, starts_at: datetime, rescheduled_by,
                           clinician: Staff | None = None, room: Room | None = None, device: Device | None = None,
                           expected_version: int | None = None) -> Appointment:
    """Move a booked session to another time (and, if given, another clinician, room or device)."""
    course = _locked_course(appointment.course)
    appointment = _locked_appointment(appointment, expected_version)
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(f"Only a booked session can be moved; this one is {appointment.get_status_display()}.")
    length = appointment.ends_at - appointment.starts_at
    before = {field: getattr(appointment, field) for field in ("starts_at", "clinician_id", "room_id", "device_id")}
    appointment.starts_at = starts_at
    appointment.ends_at = starts_at + length
    appointment.clinician = clinician or appointment.clinician
    appointment.room = room or appointment.room
    appointment.device = device or appointment.device
    appointment.confirmed_at = None  # the patient confirmed the old time, not this one
    appointment.confirmed_via = ""
    appointment.version += 1
    appointment = _validate_and_save(appointment, course)
    audit_record(actor=rescheduled_by, action=AuditAction.UPDATE, patient=appointment.patient, obj=appointment,
                 changes={field: (old, getattr(appointment, field)) for field, old in before.items()
                          if getattr(appointment, field) != old})
    notifications.notifications_on_rescheduled(appointment=appointment)
    return appointment


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, cancelled_by, by: str, reason: str,
                       expected_version: int | None = None) -> Appointment:
    """Cancel a booked session, by the patient or by the clinic; its time is free again."""
    appointment = _locked_appointment(appointment, expected_version)
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
        raise ValidationError(f"This session is {appointment.get_status_display().lower()}; it cannot be cancelled.")
    if by not in CancelledBy.values:
        raise ValidationError({"by": "Say whether the patient or the clinic cancels."})
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for the cancellation."})
    _set_status(appointment, AppointmentStatus.CANCELLED, cancelled_by)
    appointment.cancelled_by = by
    appointment.cancellation_reason = reason.strip()[:200]
    _save(appointment)
    notifications.notifications_on_cancelled(appointment=appointment)
    return appointment


@transaction.atomic
def appointment_cancel_by_patient(*, appointment: Appointment, reason: str, expected_version: int | None = None
                                  ) -> Appointment:
    """The patient cancels on their own (the email's link): only an upcoming session, and only up to the
    location's ``late_cancellation_hours`` before it; later, they are told to call the clinic."""
    appointment = _locked_appointment(appointment, expected_version)
    use = appointment_patient_link_use(appointment=appointment, action="cancel", now=timezone.now())
    if use == PatientLinkUse.NOT_AHEAD:
        raise ValidationError("This session is no longer ahead, so it cannot be cancelled online.")
    if use == PatientLinkUse.CALL_THE_CLINIC:
        raise ValidationError(appointment_late_cancellation_message(appointment=appointment))
    return appointment_cancel(appointment=appointment, cancelled_by=None, by=CancelledBy.PATIENT, reason=reason)


@transaction.atomic
def appointment_mark_arrived(*, appointment: Appointment, marked_by, expected_version: int | None = None
                             ) -> Appointment:
    appointment = _locked_appointment(appointment, expected_version)
    refusal = appointment_arrival_refusal(appointment=appointment, now=timezone.now())
    if refusal is not None:
        raise ValidationError(refusal)
    _set_status(appointment, AppointmentStatus.ARRIVED, marked_by)
    return _save(appointment)


@transaction.atomic
def appointment_mark_noshow(*, appointment: Appointment, marked_by, expected_version: int | None = None
                            ) -> Appointment:
    appointment = _locked_appointment(appointment, expected_version)
    refusal = appointment_noshow_refusal(appointment=appointment, now=timezone.now())
    if refusal is not None:
        raise ValidationError(refusal)
    _set_status(appointment, AppointmentStatus.NOSHOW, marked_by)
    _save(appointment)
    notifications.notifications_on_noshow(appointment=appointment)
    return appointment


@transaction.atomic
def appointment_confirm(*, appointment: Appointment, via: str, confirmed_by, expected_version: int | None = None
                        ) -> Appointment:
    """The patient confirms they will come (a fact apart from the status; the version stays), told to the
    clinic (``confirmed_by`` the staff member who took it) or through the email's link (``confirmed_by``
    None: the patient); a second confirmation changes nothing."""
    if via not in ConfirmationChannel.values:
        raise ValidationError({"via": "Say how the patient confirmed: " + ", ".join(ConfirmationChannel.values) + "."})
    appointment = _locked_appointment(appointment, expected_version)
    if not appointment_is_upcoming(appointment=appointment, now=timezone.now()):
        raise ValidationError("Only an upcoming booked session can be confirmed.")
    if appointment.confirmed_at is None:
        appointment.confirmed_at = timezone.now()
        appointment.confirmed_via = via
        _save(appointment)
        audit_record(actor=confirmed_by, action=AuditAction.UPDATE, patient=appointment.patient, obj=appointment,
                     changes={"confirmed_at": (None, appointment.confirmed_at), "confirmed_via": ("", via)})
    return appointment


@transaction.atomic
def appointment_mark_entered_in_error(*, appointment: Appointment, marked_by, reason: str,
                                      expected_version: int | None = None) -> Appointment:
    """Withdraw a booking that should never have been made (kept, never deleted)."""
    appointment = _locked_appointment(appointment, expected_version)
    if hasattr(appointment, "session_record"):
        raise ValidationError("This session has a session record; correct the record instead.")
    if not reason.strip():
        raise ValidationError({"reason": "Say what was wrong."})
    _set_status(appointment, AppointmentStatus.ENTERED_IN_ERROR, marked_by)
    appointment.cancellation_reason = reason.strip()[:200]
    _save(appointment)
    notifications.notifications_on_withdrawn(appointment=appointment)
    return appointment


# ---------------------------------------------------------------------------------------------
# Session records


@transaction.atomic
def session_record(
    *, appointment: Appointment, recorded_by, minutes_of_current: int, sites: list[dict],
    waveform: str = "dc", polarity_reversed: bool = False, medium: str | None = None,
    hdss: int | None = None, pain_nprs: int | None = None, sweat_mg_min: Decimal | None = None,
    sweat_site: str = "", side_effects: list[dict] | None = None, dose_ma_min: Decimal | None = None,
    note: str = "", expected_version: int | None = None,
) -> SessionRecord:
    """Record what was done in a session; the appointment becomes fulfilled and its course active.

    ``sites``: ``[{"site": "palms", "current_ma": 12, "site_other": ""}, ...]``;
    ``side_effects``: ``[{"kind": "erythema", "grade": 1, "kind_other": ""}, ...]``.
    """
    _require_clinical(recorded_by, "Only a clinician can record a session.")
    course = _locked_course(appointment.course)
    appointment = _locked_appointment(appointment, expected_version)
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
        raise ValidationError(f"This session is {appointment.get_status_display().lower()}; "
                              "only a booked or arrived session can be recorded.")
    if appointment.starts_at > timezone.now():
        raise ValidationError("This session has not started yet.")
    if SessionRecord.objects.filter(appointment=appointment).exists():
        raise ConflictError("This session is already recorded.")
    medium = medium or (Medium.DRUG if course.is_medicated else Medium.TAP)
    errors: dict[str, str] = {}
    if minutes_of_current > appointment.minutes:
        errors["minutes_of_current"] = (f"{minutes_of_current} minutes of current do not fit a "
                                        f"{appointment.minutes}-minute session.")
    site_rows = [SessionSite(site=row["site"], site_other=row.get("site_other", ""),
                             current_ma=Decimal(str(row["current_ma"]))) for row in sites]
    if not site_rows:
        errors["sites"] = "Record the current of at least one site."
    elif len({row.site for row in site_rows}) != len(site_rows):
        errors["sites"] = "Each site is recorded once."
    elif any(row.site not in course.body_sites for row in site_rows):
        errors["sites"] = "Record only the course's sites: " + ", ".join(
            BodySite(site).label for site in course.body_sites) + "."
    else:
        errors.update(_current_errors(course, appointment, site_rows))
    if course.is_medicated:
        if medium != Medium.DRUG:
            errors["medium"] = "A medicated course runs on the drug solution."
        computed = sum(row.current_ma for row in site_rows) * minutes_of_current
        dose_ma_min = Decimal(dose_ma_min) if dose_ma_min is not None else computed
        if dose_ma_min > MEDICATED_DOSE_MAX_MA_MIN:
            errors["dose_ma_min"] = (f"A dose of {dose_ma_min} mA·min is above the limit of "
                                     f"{MEDICATED_DOSE_MAX_MA_MIN} mA·min.")
        if pain_nprs is None:
            errors["pain_nprs"] = f"Record the pain score (0-{PAIN_NPRS_MAX})."
        if hdss is not None:
            errors["hdss"] = "HDSS is for hyperhidrosis courses."
    else:
        if medium == Medium.DRUG:
            errors["medium"] = "A tap-water course does not use a drug solution."
        if dose_ma_min is not None:
            errors["dose_ma_min"] = "A dose is recorded for medicated sessions only."
        if hdss is None:
            errors["hdss"] = f"Record the HDSS score ({HDSS_MIN}-{HDSS_MAX})."
        if pain_nprs is not None:
            errors["pain_nprs"] = "Pain scores are for musculoskeletal courses."
    if sweat_mg_min is not None and not sweat_site:
        errors["sweat_site"] = "Say where the sweat rate was measured."
    if errors:
        raise ValidationError(errors)
    audit_record(actor=recorded_by, action=AuditAction.CREATE, patient=course.patient, obj=appointment,
                 changes={"session_record": (None, "recorded")})
    record = _save(SessionRecord(
        appointment=appointment, minutes_of_current=minutes_of_current, waveform=waveform,
        polarity_reversed=polarity_reversed, medium=medium, dose_ma_min=dose_ma_min, hdss=hdss, pain_nprs=pain_nprs,
        sweat_mg_min=sweat_mg_min, sweat_site=sweat_site, note=note, recorded_by=recorded_by,
    ))
    for row in site_rows:
        row.record = record
        _save(row)
    for effect in side_effects or []:
        _save(SideEffect(record=record, kind=effect["kind"], kind_other=effect.get("kind_other", ""),
                         grade=effect["grade"]))
    _set_status(appointment, AppointmentStatus.FULFILLED, recorded_by)
    _save(appointment)
    if course.status == CourseStatus.PLANNED:
        course.status = CourseStatus.ACTIVE
        _save(course)
    notifications.notifications_on_fulfilled(appointment=appointment, course=course)
    return record


def _current_errors(course: Course, appointment: Appointment, site_rows: list[SessionSite]) -> dict[str, str]:
    location = appointment.location
    if course.is_medicated:
        limit, who = MEDICATED_CURRENT_MAX_MA, "a medicated session"
    elif course.patient.age_on(appointment.local_date) < CHILD_AGE_LIMIT:
        limit, who = location.max_current_ma_child, "a patient under 18 on tap water"
    else:
        limit, who = location.max_current_ma_adult, "an adult on tap water"
    too_high = [row for row in site_rows if row.current_ma > limit]
    if too_high:
        names = ", ".join(f"{BodySite(row.site).label} {row.current_ma} mA" for row in too_high)
        return {"sites": f"{names}: the limit for {who} at {location} is {limit} mA."}
    return {}


# ---------------------------------------------------------------------------------------------
# Whole courses: book every remaining session at once, re-plan after a move, propose maintenance


class CourseDoesNotFit(ConflictError):
    """The course cannot be booked whole, so nothing was booked; ``plan`` is the best partial plan
    with the reason of each session that does not fit."""

    def __init__(self, plan: CoursePlan):
        self.plan = plan
        super().__init__(plan.unplaced[0].reason, code="course_does_not_fit")


def _preferences(*, location: Location, weekdays: Iterable[int] | None, earliest: time | None,
                 latest: time | None, clinician: Staff | None) -> Preferences:
    days = None
    if weekdays is not None:
        days = frozenset(weekdays)
        if not days or not days <= set(range(7)):
            raise ValidationError({"weekdays": "Choose weekdays from 0 (Monday) to 6 (Sunday)."})
    if earliest is not None and latest is not None and earliest >= latest:
        raise ValidationError({"latest": f"The latest time ({latest:%H:%M}) must be after the earliest "
                                         f"({earliest:%H:%M})."})
    if clinician is not None and not clinician.locations.filter(pk=location.pk).exists():
        raise ValidationError({"clinician": f"{clinician} does not work at {location}."})
    return Preferences(weekdays=days, earliest=earliest, latest=latest, clinician=clinician)


def _booking_window(location: Location, first_date: date | None) -> tuple[date, date]:
    """From the first possible date (today at the earliest) to the end of the booking horizon."""
    today = location.local(timezone.now()).date()
    horizon_end = today + timedelta(weeks=location.booking_horizon_weeks)
    start = max(first_date or today, today)
    if start >= horizon_end:
        raise ValidationError({"first_date": f"{start:%a %d %b %Y} is beyond the booking horizon of "
                                             f"{location.booking_horizon_weeks} weeks (until "
                                             f"{horizon_end - timedelta(days=1):%a %d %b %Y})."})
    return start, horizon_end


def _not_fitting(plan: CoursePlan, session: PlannedSession, error: ValidationError) -> CourseDoesNotFit:
    """A session the plan found free was refused at booking (another desk was faster): nothing is kept."""
    total = plan.sessions[-1].number
    plan.sessions = [planned for planned in plan.sessions if planned is not session]
    for planned in plan.sessions:
        planned.appointment = None
    plan.unplaced.insert(0, UnplacedSession(number=session.number,
                                            reason=f"Session {session.number} of {total}: " + " ".join(error.messages)))
    return CourseDoesNotFit(plan)


@transaction.atomic
def course_book(
    *, course: Course, booked_by, preview: bool = False, weekdays: Iterable[int] | None = None,
    earliest: time | None = None, latest: time | None = None, clinician: Staff | None = None,
    first_date: date | None = None,
) -> CoursePlan:
    """Book every remaining session of a course in one step, all or none.

    The sessions follow the course's cadence (``sessions_per_week`` on separate days, a free day
    between them where that still fits the horizon), from ``first_date`` (today at the earliest)
    to the location's booking horizon, within the patient's ``weekdays`` (0 = Monday) and local
    times (a session starts at ``earliest`` or later and ends by ``latest``), with the preferred
    ``clinician`` where free, otherwise keeping one clinician, room, device and time of day where
    it can. ``preview`` returns the plan without booking. When the course does not fit, nothing
    is booked and ``CourseDoesNotFit`` carries the best partial plan with each missing session's reason.
    """
    course = _locked_course(course)
    location = course.location
    preferences = _preferences(location=location, weekdays=weekdays, earliest=earliest, latest=latest,
                               clinician=clinician)
    start, horizon_end = _booking_window(location, first_date)
    grid = availability_grid(location=location, start=start, end=horizon_end, minutes=course.session_minutes,
                             course=course)
    refusal = course_refusal(course, active=grid.course.active)
    if refusal is not None:
        raise refusal
    plan = course_plan(grid=grid, course=course, count=course.planned_sessions - grid.course.active,
                       first_number=grid.course.active + 1, preferences=preferences, horizon_end=horizon_end)
    if preview:
        return plan
    if not plan.fits:
        raise CourseDoesNotFit(plan)
    checked = _Checked()
    for session in plan.sessions:
        try:
            session.appointment = _book_one(course=course, clinician=session.clinician, room=session.room,
                                            device=session.device, starts_at=session.starts_at, booked_by=booked_by,
                                            checked=checked)
        except ValidationError as error:
            raise _not_fitting(plan, session, error) from error
    # Every session is booked: the one confirmation for the whole course, and each session's reminders.
    notifications.notifications_on_booked(appointments=[session.appointment for session in plan.sessions])
    plan.booked = True
    return plan


def _apply_moves(moves: list[tuple[Appointment | None, PlannedSession]], plan: CoursePlan, course: Course,
                 by) -> None:
    """Move (or, with no appointment, book) each planned session. A session whose new day another
    session of the course still holds waits until that one has moved; nothing is kept on failure."""
    pending = list(moves)
    errors: dict[int, ValidationError] = {}
    while pending:
        done = []
        for appointment, session in pending:
            try:
                with transaction.atomic():
                    if appointment is None:
                        session.appointment = appointment_book(
                            course=course, clinician=session.clinician, room=session.room, device=session.device,
                            starts_at=session.starts_at, booked_by=by)
                    else:
                        session.appointment = appointment_reschedule(
                            appointment=appointment, starts_at=session.starts_at, rescheduled_by=by,
                            clinician=session.clinician, room=session.room, device=session.device)
                done.append((appointment, session))
            except ValidationError as error:
                errors[session.number] = error
        if not done:
            appointment, session = pending[0]
            raise _not_fitting(plan, session, errors[session.number])
        pending = [move for move in pending if move not in done]


@transaction.atomic
def course_reschedule_from(
    *, appointment: Appointment, rescheduled_by, starts_at: datetime | None = None,
    clinician: Staff | None = None, room: Room | None = None, device: Device | None = None, preview: bool = False,
    expected_version: int | None = None,
) -> CoursePlan:
    """Move one session and re-plan the course's later booked sessions so the cadence holds.

    A booked session moves to ``starts_at`` (with the given clinician, room or device, else its
    own). A missed session (no-show) gets a make-up session: at ``starts_at`` when given, else at
    the first time the cadence allows from tomorrow. The later booked sessions follow at the cadence,
    keeping the moved session's time of day, clinician, room and device where free. ``preview``
    returns the plan without changing anything; when the sessions do not fit, nothing changes and
    ``CourseDoesNotFit`` carries the plan. A stale ``expected_version`` of the session is refused first.
    """
    course = _locked_course(appointment.course)
    appointment = _locked_appointment(appointment, expected_version)
    location = course.location
    if appointment.status == AppointmentStatus.BOOKED:
        if starts_at is None:
            raise ValidationError({"starts_at": "Give the new time of the session."})
    elif appointment.status != AppointmentStatus.NOSHOW:
        raise ValidationError(f"Only a booked session can be moved, or a missed one made up; this one is "
                              f"{appointment.get_status_display().lower()}.")
    if starts_at is not None and timezone.is_naive(starts_at):
        raise ValidationError({"starts_at": "Give the time with its time zone."})
    later = list(course.appointments.filter(status=AppointmentStatus.BOOKED, starts_at__gt=appointment.starts_at)
                 .exclude(pk=appointment.pk).select_related("clinician__user", "room", "device")
                 .order_by("starts_at"))
    moving = later + ([appointment] if appointment.status == AppointmentStatus.BOOKED else [])
    start, horizon_end = _booking_window(location, None)
    if starts_at is not None:
        horizon_end = max(horizon_end, location.local(starts_at).date() + timedelta(days=1))
    grid = availability_grid(location=location, start=start, end=horizon_end, minutes=course.session_minutes,
                             course=course, moving=moving)
    # The later sessions are still booked: they count against the planned sessions of a make-up.
    refusal = course_refusal(course, active=grid.course.active + len(later),
                             moving=appointment.status == AppointmentStatus.BOOKED)
    if refusal is not None:
        raise refusal
    first_number = grid.course.active + 1
    if starts_at is not None:
        first = PlannedSession(
            number=first_number, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=course.session_minutes),
            clinician=clinician or appointment.clinician, room=room or appointment.room,
            device=device or appointment.device,
        )
    else:
        made_up = course_plan(grid=grid, course=course, count=1, first_number=first_number,
                              preferences=Preferences(clinician=appointment.clinician), horizon_end=horizon_end,
                              not_before=location.local(timezone.now()).date() + timedelta(days=1),
                              anchor=Anchor(seconds=_local_seconds(location, appointment.starts_at),
                                            clinician_id=appointment.clinician_id, room_id=appointment.room_id,
                                            device_id=appointment.device_id))
        if not made_up.fits:
            made_up.unplaced += [UnplacedSession(number=first_number + 1 + i, reason=made_up.unplaced[0].reason)
                                 for i in range(len(later))]
            if preview:
                return made_up
            raise CourseDoesNotFit(made_up)
        first = made_up.sessions[0]
    first_day = location.local(first.starts_at).date()
    grid.course.days.add(first_day)
    grid.course.weeks[week_start(first_day)] += 1
    rest = course_plan(grid=grid, course=course, count=len(later), first_number=first_number + 1,
                       preferences=Preferences(), horizon_end=horizon_end, not_before=first_day + timedelta(days=1),
                       anchor=Anchor(seconds=_local_seconds(location, first.starts_at), clinician_id=first.clinician.pk,
                                     room_id=first.room.pk, device_id=first.device.pk))
    plan = CoursePlan(course=course, sessions=[first, *rest.sessions], unplaced=rest.unplaced,
                      horizon_end=horizon_end)
    if preview:
        return plan
    if not plan.fits:
        raise CourseDoesNotFit(plan)
    moves = [(appointment if appointment.status == AppointmentStatus.BOOKED else None, first)]
    moves += [(old, new) for old, new in zip(later, rest.sessions, strict=True)
              if (old.starts_at, old.clinician_id, old.room_id, old.device_id)
              != (new.starts_at, new.clinician.pk, new.room.pk, new.device.pk)]
    _apply_moves(moves, plan, course, rescheduled_by)
    for old, new in zip(later, rest.sessions, strict=True):
        new.appointment = new.appointment or old
    plan.booked = True
    return plan


def _local_seconds(location: Location, moment: datetime) -> float:
    local = location.local(moment)
    return local.hour * 3600 + local.minute * 60 + local.second


def course_maintenance_proposal(*, course: Course) -> CoursePlan:
    """The next maintenance session of a course that waits for one, proposed (nothing is booked).

    It falls due when the dashboard flag and the recall say (``selectors.course_maintenance_due_on``)
    and is proposed within the week from then (from today when that has passed), at the last
    session's time of day with its clinician, room and device where free."""
    course = course_annotate_maintenance(courses=Course.objects.select_related("location")).get(pk=course.pk)
    due = course_maintenance_due_on(course=course)
    if due is None:
        raise ValidationError(MAINTENANCE_NOT_DUE)
    last = Appointment.objects.select_related("clinician__user", "room", "device").get(pk=course.last_session_id)
    location = course.location
    start = max(due, location.local(timezone.now()).date())
    end = start + timedelta(days=7)
    grid = availability_grid(location=location, start=start, end=end, minutes=course.session_minutes,
                             patient_id=course.patient_id)
    grid.course = CourseFacts()
    anchor = Anchor(seconds=_local_seconds(location, last.starts_at), clinician_id=last.clinician_id,
                    room_id=last.room_id, device_id=last.device_id)
    plan = course_plan(grid=grid, course=course, count=1, first_number=1,
                       preferences=Preferences(clinician=last.clinician), horizon_end=end, anchor=anchor)
    for unplaced in plan.unplaced:
        unplaced.reason = (f"The next maintenance session, due {due:%a %d %b %Y}, finds no free time "
                           f"by {end - timedelta(days=1):%a %d %b %Y}.")
    return plan
