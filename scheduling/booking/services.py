"""Writes of appointments: every rule that books, moves, cancels or marks one session.

The admin, the API and Celery tasks all call these functions. Each runs in one transaction,
takes the locks its rule needs (a booking: its course, patient and location, so two bookings that
could clash are judged one after the other), reads the facts of every rule in one query, validates in
the clinic's words, and leaves the last word on overlaps to PostgreSQL's exclusion constraints, whose
rare violations (what no lock serialises) come back as a ConflictError too.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.errors import ConflictError
from clinic.models import Device, Location, Room, Staff, StaffRole, Weekday
from clinic.selectors import staff_is_clinical
from clinic.services import full_clean_and_save
from patients.models import AuditAction
from patients.services import audit_record, audit_record_many
from scheduling.booking.rules import screening_check, screening_refusal
from scheduling.booking.selectors import (
    BookingFacts,
    PatientLinkUse,
    SessionFacts,
    appointment_arrival_refusal,
    appointment_is_upcoming,
    appointment_late_cancellation_message,
    appointment_noshow_refusal,
    appointment_patient_link_use,
    appointments_visible_to,
    booking_facts,
)
from scheduling.checkins.services import check_ins_on_booked
from scheduling.engine.setup import seconds_of_day
from scheduling.models import (
    ACTIVE_STATUSES,
    SESSION_MINUTES_MAX,
    SESSION_MINUTES_MIN,
    SESSIONS_PER_WEEK_MAX,
    Appointment,
    AppointmentStatus,
    CancelledBy,
    ConfirmationChannel,
    Course,
)
from scheduling.reminders.outbox import (
    notifications_on_booked,
    notifications_on_cancelled,
    notifications_on_noshow,
    notifications_on_rescheduled,
    notifications_on_withdrawn,
)
from scheduling.waitlist.freed import someone_waits, waitlist_slot_freed

# PostgreSQL's SQLSTATEs for a refused overlap and a second session on the same day.
EXCLUSION_VIOLATION = "23P01"
UNIQUE_VIOLATION = "23505"
MEDICATED_CURRENT_MAX_MA = Decimal(4)  # medicated iontophoresis runs at 1-4 mA (DESIGN.md)
CHILD_AGE_LIMIT = 18
COURSE_END_REFUSAL = "Only a clinician or a manager ends or extends a course."


# Field validators run here; the table's constraints are checked by PostgreSQL on save and by
# the explicit rules above (validating them in Python costs a query per constraint).
save_validated = partial(full_clean_and_save, validate_constraints=False)


def save_status(appointment: Appointment) -> Appointment:
    """Save a change of an appointment's state (status, confirmation, reason): its field validators run;
    its foreign keys point at rows it already held (and PostgreSQL guards them), so they are not looked
    up again, a query apiece, eight a change."""
    relations = [field.name for field in appointment._meta.concrete_fields if field.is_relation]
    appointment.full_clean(exclude=relations, validate_constraints=False)
    appointment.save()
    return appointment


def _span(location: Location, starts_at: datetime, ends_at: datetime) -> str:
    start, end = location.local(starts_at), location.local(ends_at)
    return f"{start:%a %d %b} {start:%H:%M}-{end:%H:%M}"



def locked_course(course: Course | int) -> Course:
    """The course (or the course of that id) read afresh with its patient and location, the three rows locked.

    The location's row serialises the bookings at a location (its rooms and devices, whose turnover no
    constraint knows), the patient's their sessions wherever they are, the course's its counts; what these
    do not serialise (one clinician booked at two locations at once) an exclusion constraint refuses.
    """
    pk = getattr(course, "pk", course)
    return (Course.objects.select_for_update(of=("self", "patient", "location"))
            .select_related("patient", "location").get(pk=pk))


def require_clinical(user, refusal: str) -> None:
    """Treatment is clinical: the same rule for every entry point, the admin, the API and the pages."""
    if not staff_is_clinical(user):
        raise PermissionError(refusal)



# ---------------------------------------------------------------------------------------------
# Appointments: the booking rules


def _check_resources(appointment: Appointment, facts: BookingFacts) -> None:
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
    elif not any(person.pk == clinician.pk for person in facts.setup.clinicians):
        errors["clinician"] = f"{clinician} does not work at {location}."
    if errors:
        raise ValidationError(errors)


def _clock(seconds: float) -> str:
    """Seconds since midnight as the wall-clock time HH:MM."""
    return f"{int(seconds) // 3600:02d}:{int(seconds) % 3600 // 60:02d}"


def _check_hours(appointment: Appointment, facts: BookingFacts, session: SessionFacts) -> None:
    location = appointment.location
    start, end = location.local(appointment.starts_at), location.local(appointment.ends_at)
    span = _span(location, appointment.starts_at, appointment.ends_at)
    if start.date() != end.date():
        raise ValidationError({"starts_at": f"{span} runs past midnight."})
    weekday = start.weekday()
    start_seconds, end_seconds = seconds_of_day(start.time()), seconds_of_day(end.time())
    opening = sorted(facts.setup.opening.get(weekday, ()))
    if not any(opens <= start_seconds and end_seconds <= closes for opens, closes in opening):
        if opening:
            open_text = ", ".join(f"{_clock(opens)}-{_clock(closes)}" for opens, closes in opening)
            raise ValidationError({"starts_at": f"{span} is outside the opening hours of {location} "
                                                f"({Weekday(weekday).label} {open_text})."})
        raise ValidationError({"starts_at": f"{location} is closed on {Weekday(weekday).label}s."})
    working = facts.setup.working.get(appointment.clinician_id)
    if working and not any(begins <= start_seconds and end_seconds <= ends
                           for begins, ends in working.get(weekday, ())):
        raise ValidationError({"clinician": f"{appointment.clinician} does not work {span}."})
    closure = session.closure
    if closure is not None:
        what = closure.room or closure.device or closure.clinician or location
        raise ValidationError({"starts_at": f"{what} is closed {_span(location, closure.starts_at, closure.ends_at)}"
                                            f" ({closure.reason})."})


def _check_course(appointment: Appointment, course: Course, facts: BookingFacts, session: SessionFacts,
                  earlier: list[Appointment]) -> None:
    """The course's and the patient's limits; ``earlier``: the sessions of the same call already judged."""
    if not course.is_open:
        raise ValidationError({"course": f"This course is {course.get_status_display().lower()}."})
    if course.patient.is_archived:
        raise ValidationError({"patient": "This patient is archived."})
    if appointment.pk is None and facts.course_sessions + len(earlier) >= course.planned_sessions:
        raise ValidationError({"course": f"All {course.planned_sessions} planned sessions of this course are "
                                         "already booked."})
    same_day = next((other for other in earlier if other.local_date == appointment.local_date), None)
    if same_day is None and session.on_the_day:
        same_day = _same_day(appointment)
    if same_day is not None:
        raise _same_day_error(appointment, same_day)
    week_start = appointment.local_date - timedelta(days=appointment.local_date.weekday())
    in_week = session.in_week + sum(week_start <= other.local_date < week_start + timedelta(days=7)
                                    for other in earlier)
    if in_week >= SESSIONS_PER_WEEK_MAX:
        raise ValidationError({"starts_at": f"This course already has {in_week} sessions in the week of "
                                            f"{week_start:%d %b}; at most {SESSIONS_PER_WEEK_MAX} a week."})


def _same_day(appointment: Appointment) -> Appointment | None:
    return (Appointment.objects.filter(patient=appointment.patient_id, local_date=appointment.local_date,
                                       status__in=ACTIVE_STATUSES)
            .exclude(pk=appointment.pk).select_related("location").first())


def _same_day_error(appointment: Appointment, same_day: Appointment) -> ConflictError:
    """One session of a patient a local day, whatever the course (DESIGN.md's cadence, and issue 20:
    two courses of one patient must not meet on a day), in words naming the other session's time. The
    database holds the rule too."""
    if same_day.course_id == appointment.course_id:
        return ConflictError(f"This course already has a session on {appointment.local_date:%a %d %b} "
                             f"({_span(same_day.location, same_day.starts_at, same_day.ends_at)}); "
                             "one session a day at most.", code="course_day_taken")
    start, end = same_day.location.local(same_day.starts_at), same_day.location.local(same_day.ends_at)
    return ConflictError(f"The patient already has a session on {appointment.local_date:%a %d %b} "
                         f"({start:%H:%M}-{end:%H:%M}, another course); one session a day at most.",
                         code="patient_day_taken")


def _conflict_error(appointment: Appointment, clash: Appointment) -> ConflictError:
    """The clash in the front desk's words, naming the time and resource but never another patient."""
    other = Appointment.objects.select_related("room", "device", "clinician__user", "location").get(pk=clash.pk)
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


def _check_time(appointment: Appointment, past: bool) -> None:
    if not past and appointment.starts_at < timezone.now():
        raise ValidationError({"starts_at": "That time has passed."})
    if past and appointment.ends_at > timezone.now():
        raise ValidationError({"starts_at": "Only a session that has already ended can be entered afterwards."})


# The related rows were loaded and checked (and PostgreSQL holds the foreign keys): validating each
# foreign key again would cost a query apiece, eight a booking.
RELATIONS = ["course", "patient", "location", "clinician", "room", "device", "booked_by", "status_changed_by"]


def validate_sessions(appointments: list[Appointment], course: Course, *, past: bool = False,
                      refused=None) -> BookingFacts:
    """Every booking rule for the sessions of one call (new ones, or one being moved), in the order a
    front desk reads them; the caller holds the course lock (see locked_course). Their facts come from
    one read (``booking_facts``); only a refusal reads more, to name what is in the way. ``refused(index,
    error)``, when given, makes the exception raised for a refused session (a course names its number)."""
    for appointment in appointments:
        if timezone.is_naive(appointment.starts_at):
            screening_check(course)  # as for an aware time, the screening's refusal comes first
            raise ValidationError({"starts_at": "Give the time with its time zone."})
        appointment.local_date = appointment.location.local(appointment.starts_at).date()
    facts = booking_facts(course=course, appointments=appointments)
    refusal = screening_refusal(course, facts.screening)
    if refusal is not None:
        raise refusal
    for index, (appointment, session) in enumerate(zip(appointments, facts.sessions, strict=True)):
        try:
            _check_time(appointment, past)
            _check_resources(appointment, facts)
            _check_hours(appointment, facts, session)
            _check_course(appointment, course, facts, session, appointments[:index])
            if session.clash is not None:
                raise _conflict_error(appointment, session.clash)
            appointment.full_clean(exclude=RELATIONS, validate_constraints=False)
        except ValidationError as error:
            if refused is None:
                raise
            raise refused(index, error) from error
    return facts


@contextmanager
def _lost_race():
    """An exclusion constraint or the one-a-day index refused a write the rules let through: a booking no
    lock serialises with this one (the same clinician at another location) committed first. The
    transaction cannot read any more, so the refusal cannot name it."""
    try:
        yield
    except IntegrityError as error:
        if getattr(error.__cause__, "pgcode", None) not in (EXCLUSION_VIOLATION, UNIQUE_VIOLATION):
            raise
        raise ConflictError("Another booking took this time a moment ago; choose another time.") from error


def new_session(*, course: Course, clinician: Staff, room: Room, device: Device, starts_at: datetime,
                booked_by) -> Appointment:
    return Appointment(
        course=course, patient=course.patient, location=course.location, clinician=clinician, room=room,
        device=device, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=course.session_minutes),
        booked_by=booked_by,
    )


def book_sessions(*, course: Course, sessions: list[Appointment], booked_by, past: bool = False,
                  refused=None) -> list[Appointment]:
    """Every booking rule for the sessions (``new_session``), then one INSERT of them and one of their
    audit rows, and the patient's baseline check-in when they open a course; the caller holds the course
    lock (see locked_course) and tells the patient once for all."""
    facts = validate_sessions(sessions, course, past=past, refused=refused)
    with _lost_race():
        Appointment.objects.bulk_create(sessions)
    audit_record_many(actor=booked_by, action=AuditAction.CREATE, patient=course.patient, objects=sessions)
    check_ins_on_booked(appointments=sessions, blocked=past or facts.baseline_blocked)
    return sessions


def book_one(*, course: Course, clinician: Staff, room: Room, device: Device, starts_at: datetime,
             booked_by, past: bool = False) -> Appointment:
    """Every booking rule for one session; the caller holds the course lock (see locked_course)
    and tells the patient once for all it booked."""
    session = new_session(course=course, clinician=clinician, room=room, device=device, starts_at=starts_at,
                          booked_by=booked_by)
    return book_sessions(course=course, sessions=[session], booked_by=booked_by, past=past)[0]


@transaction.atomic
def appointment_enter_past(*, course: Course, clinician: Staff, room: Room, device: Device, starts_at: datetime,
                           entered_by) -> Appointment:
    """Enter a session that already took place (from a paper diary or a former system), so its
    session record can follow. Every booking rule applies but the time lies in the past; no
    patient message is sent for it."""
    course = locked_course(course)
    return book_one(course=course, clinician=clinician, room=room, device=device, starts_at=starts_at,
                    booked_by=entered_by, past=True)


@transaction.atomic
def appointment_book(*, course: Course, clinician: Staff, room: Room, device: Device, starts_at: datetime,
                     booked_by) -> Appointment:
    """Book one session of a course with a clinician, room and device at the course's location."""
    course = locked_course(course)
    appointment = book_one(course=course, clinician=clinician, room=room, device=device, starts_at=starts_at,
                           booked_by=booked_by)
    notifications_on_booked(appointments=[appointment])
    return appointment


def locked_appointment(appointment: Appointment, expected_version: int | None = None, *,
                       to_book: bool = False, seen_by=None) -> Appointment:
    """The appointment locked with its course and patient, and, ``to_book`` it again at another time or
    with other resources, its location (see locked_course); read with all its answer shows, its course
    holding the same patient and location, and whether anyone waits at its location (``someone_waits``).
    ``seen_by``: the acting member of staff, who changes only an appointment at one of their locations
    (``appointments_visible_to``; another raises Appointment.DoesNotExist, as an unknown one does); None
    for the patient's own link and the beat, which name the appointment themselves."""
    rows = ("self", "course", "patient", "location") if to_book else ("self", "course", "patient")
    within = Appointment.objects if seen_by is None else appointments_visible_to(user=seen_by)
    locked = (
        within.select_for_update(of=rows)
        .select_related("location", "course", "patient", "clinician__user", "room", "device", "session_record")
        .annotate(someone_waits=someone_waits())
        .get(pk=appointment.pk)
    )
    locked.course.patient, locked.course.location = locked.patient, locked.location
    if expected_version is not None and locked.version != expected_version:
        raise ConflictError("This appointment was changed by someone else; reload it and try again.",
                            code="version_mismatch")
    return locked


def set_status(appointment: Appointment, status: str, changed_by) -> None:
    audit_record(actor=changed_by, action=AuditAction.UPDATE, patient=appointment.patient, obj=appointment,
                 changes={"status": (appointment.status, status)})
    appointment.status = status
    appointment.status_changed_at = timezone.now()
    appointment.status_changed_by = changed_by
    appointment.version += 1


@transaction.atomic
def appointment_reschedule(*, appointment: Appointment, starts_at: datetime, rescheduled_by,
                           clinician: Staff | None = None, room: Room | None = None, device: Device | None = None,
                           minutes: int | None = None, expected_version: int | None = None,
                           by_patient: bool = False) -> Appointment:
    """Move a booked session to another time (and, if given, another clinician, room or device, or
    another length of SESSION_MINUTES_MIN to SESSION_MINUTES_MAX minutes). ``by_patient``: the patient
    moved it through their link (``rescheduled_by`` None); the desk sees it until the clinic moves it again."""
    if minutes is not None and not SESSION_MINUTES_MIN <= minutes <= SESSION_MINUTES_MAX:
        raise ValidationError({"minutes": f"A session lasts {SESSION_MINUTES_MIN} to {SESSION_MINUTES_MAX} minutes, "
                                          f"not {minutes}."})
    appointment = locked_appointment(appointment, expected_version, to_book=True, seen_by=rescheduled_by)
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(f"Only a booked session can be moved; this one is {appointment.get_status_display()}.")
    length = timedelta(minutes=minutes) if minutes is not None else appointment.ends_at - appointment.starts_at
    before = {field: getattr(appointment, field)
              for field in ("starts_at", "minutes", "clinician_id", "room_id", "device_id")}
    appointment.starts_at = starts_at
    appointment.ends_at = starts_at + length
    appointment.clinician = clinician or appointment.clinician
    appointment.room = room or appointment.room
    appointment.device = device or appointment.device
    appointment.confirmed_at = None  # the patient confirmed the old time, not this one
    appointment.confirmed_via = ""
    appointment.moved_by_patient_at = timezone.now() if by_patient else None
    appointment.version += 1
    validate_sessions([appointment], appointment.course)
    with _lost_race():
        appointment.save()
    audit_record(actor=rescheduled_by, action=AuditAction.UPDATE, patient=appointment.patient, obj=appointment,
                 changes={field: (old, getattr(appointment, field)) for field, old in before.items()
                          if getattr(appointment, field) != old})
    notifications_on_rescheduled(appointment=appointment)
    waitlist_slot_freed(appointment=appointment, was=before)
    return appointment


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, recorded_by, by: str, reason: str,
                       expected_version: int | None = None) -> Appointment:
    """Cancel a booked session; its time is free again.

    ``by`` is the party who cancels (patient or clinic, stored as ``Appointment.cancelled_by``);
    ``recorded_by`` is the user who enters it (``None`` when the patient cancels through their link).
    """
    appointment = locked_appointment(appointment, expected_version, seen_by=recorded_by)
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
        raise ValidationError(f"This session is {appointment.get_status_display().lower()}; it cannot be cancelled.")
    if by not in CancelledBy.values:
        raise ValidationError({"by": "Say whether the patient or the clinic cancels."})
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for the cancellation."})
    set_status(appointment, AppointmentStatus.CANCELLED, recorded_by)
    appointment.cancelled_by = by
    appointment.cancellation_reason = reason.strip()[:200]
    save_status(appointment)
    notifications_on_cancelled(appointment=appointment)
    waitlist_slot_freed(appointment=appointment)  # the patient's own cancellation comes through here too
    return appointment


@transaction.atomic
def appointment_cancel_by_patient(*, appointment: Appointment, reason: str, expected_version: int | None = None
                                  ) -> Appointment:
    """The patient cancels on their own (the email's link): only an upcoming session, and only up to the
    location's ``late_cancellation_hours`` before it; later, they are told to call the clinic."""
    appointment = locked_appointment(appointment, expected_version)
    use = appointment_patient_link_use(appointment=appointment, action="cancel", now=timezone.now())
    if use == PatientLinkUse.NOT_AHEAD:
        raise ValidationError("This session is no longer ahead, so it cannot be cancelled online.")
    if use == PatientLinkUse.CALL_THE_CLINIC:
        raise ValidationError(appointment_late_cancellation_message(appointment=appointment))
    return appointment_cancel(appointment=appointment, recorded_by=None, by=CancelledBy.PATIENT, reason=reason)


@transaction.atomic
def appointment_mark_arrived(*, appointment: Appointment, marked_by, expected_version: int | None = None
                             ) -> Appointment:
    appointment = locked_appointment(appointment, expected_version, seen_by=marked_by)
    refusal = appointment_arrival_refusal(appointment=appointment, now=timezone.now())
    if refusal is not None:
        raise ValidationError(refusal)
    set_status(appointment, AppointmentStatus.ARRIVED, marked_by)
    return save_status(appointment)


@transaction.atomic
def appointment_mark_noshow(*, appointment: Appointment, marked_by, expected_version: int | None = None
                            ) -> Appointment:
    appointment = locked_appointment(appointment, expected_version, seen_by=marked_by)
    refusal = appointment_noshow_refusal(appointment=appointment, now=timezone.now())
    if refusal is not None:
        raise ValidationError(refusal)
    set_status(appointment, AppointmentStatus.NOSHOW, marked_by)
    save_status(appointment)
    notifications_on_noshow(appointment=appointment)
    return appointment


@transaction.atomic
def appointment_confirm(*, appointment: Appointment, via: str, confirmed_by, expected_version: int | None = None
                        ) -> Appointment:
    """The patient confirms they will come (a fact apart from the status; the version stays), told to the
    clinic (``confirmed_by`` the staff member who took it) or through the email's link (``confirmed_by``
    None: the patient); a second confirmation changes nothing."""
    if via not in ConfirmationChannel.values:
        raise ValidationError({"via": "Say how the patient confirmed: " + ", ".join(ConfirmationChannel.values) + "."})
    appointment = locked_appointment(appointment, expected_version, seen_by=confirmed_by)
    if not appointment_is_upcoming(appointment=appointment, now=timezone.now()):
        raise ValidationError("Only an upcoming booked session can be confirmed.")
    if appointment.confirmed_at is None:
        appointment.confirmed_at = timezone.now()
        appointment.confirmed_via = via
        save_status(appointment)
        audit_record(actor=confirmed_by, action=AuditAction.UPDATE, patient=appointment.patient, obj=appointment,
                     changes={"confirmed_at": (None, appointment.confirmed_at), "confirmed_via": ("", via)})
    return appointment


@transaction.atomic
def appointment_mark_entered_in_error(*, appointment: Appointment, marked_by, reason: str,
                                      expected_version: int | None = None) -> Appointment:
    """Withdraw a booking that should never have been made (kept, never deleted)."""
    appointment = locked_appointment(appointment, expected_version, seen_by=marked_by)
    if hasattr(appointment, "session_record"):
        raise ValidationError("This session has a session record; correct the record instead.")
    if not reason.strip():
        raise ValidationError({"reason": "Say what was wrong."})
    set_status(appointment, AppointmentStatus.ENTERED_IN_ERROR, marked_by)
    appointment.cancellation_reason = reason.strip()[:200]
    save_status(appointment)
    notifications_on_withdrawn(appointment=appointment)
    return appointment
