"""Reads of courses, appointments and session records beyond a plain lookup.

The course rules that several parts read (the dashboard flags in ``scheduling.records.progress``, the
recall writer and the send check in ``scheduling.reminders``, the maintenance proposal and the
admin's course list) are written here once, as queryset annotations, so a list and a single
course get the same answer from the same SQL. The progress selectors live in ``scheduling.records.progress``,
which reads these rules, so this module does not import it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from clinic.models import Closure, Device, Location, Room, Staff
from clinic.rows import instance_from_json, json_rows
from clinic.selectors import at_visible_locations, closure_closes, closure_list_overlapping
from patients.models import CONTRAINDICATIONS, MEDICATED_CONTRAINDICATIONS, Patient, Screening
from scheduling.booking.rules import course_refusal
from scheduling.checkins.models import CheckIn, CheckInPurpose
from scheduling.engine.grid import Slot, availability_grid, week_start
from scheduling.engine.planner import Anchor, PlannedSession, Preferences, course_plan
from scheduling.engine.setup import LocationSetup, setup_of
from scheduling.models import (
    ACTIVE_STATUSES,
    PENDING_STATUSES,
    SESSION_MINUTES_MAX,
    Appointment,
    AppointmentStatus,
    Course,
    CoursePhase,
    CourseStatus,
    Indication,
    Notification,
    SessionRecord,
)

# A hyperhidrosis patient reporting HDSS 3 or 4 after the course: the sweating is back (issue 23).
SWEATING_RETURNED_HDSS = 3


def courses_visible_to(*, user) -> QuerySet[Course]:
    """The courses at the user's locations; a manager sees every course."""
    return at_visible_locations(Course.objects, user=user)


def appointments_visible_to(*, user) -> QuerySet[Appointment]:
    return at_visible_locations(Appointment.objects, user=user)


def session_records_visible_to(*, user) -> QuerySet[SessionRecord]:
    return at_visible_locations(SessionRecord.objects, user=user, field="appointment__location_id")


def course_last_session_record(*, course_id: int) -> SessionRecord | None:
    """The course's latest recorded session with its sites' currents: the clinician starts the next one
    from it (shown beside "Record session")."""
    return (SessionRecord.objects.filter(appointment__course_id=course_id)
            .select_related("appointment__location").prefetch_related("sites")
            .order_by("-appointment__starts_at").first())


def notifications_visible_to(*, user) -> QuerySet[Notification]:
    """By the course's location, not the appointment's: a message (a recall, a follow-up) is about the
    course, and the two agree today only because every session is booked at its course's location."""
    return at_visible_locations(Notification.objects, user=user, field="course__location_id")

OPEN_COURSE_STATUSES = (CourseStatus.PLANNED, CourseStatus.ACTIVE)
MAINTENANCE_NOT_DUE = ("No maintenance session waits to be booked: maintenance follows a completed hyperhidrosis "
                       "course with none running, or continues an open maintenance course with nothing booked.")


def slot_list_available(
    *, location: Location, start: date, end: date, minutes: int | None = None, clinician: Staff | None = None,
    room: Room | None = None, device: Device | None = None, patient: Patient | None = None,
    course: Course | None = None, moving: Appointment | None = None,
) -> list[Slot]:
    """Free start times at ``location`` on the local days [start, end) for a session of ``minutes``.

    Each ``scheduling.engine.grid.Slot`` has its start, end and the clinicians, rooms and in-service
    devices free together then. ``clinician``, ``room``, ``device`` narrow the search to one of each;
    ``patient`` keeps the patient's own sessions clear; ``course`` (its patient, its session length
    when ``minutes`` is None) adds the course rules and raises ``ValidationError`` when the course
    cannot be booked at all (no screening, closed course, every session booked); ``moving`` is a
    booked session about to be moved, whose own time counts as free. Every slot returned passes
    ``appointment_book``; at most six SQL queries, whatever the history.
    """
    if course is not None and minutes is None:
        minutes = course.session_minutes
    if minutes is None:
        raise ValidationError({"minutes": "Give the session length in minutes."})
    grid = availability_grid(
        location=location, start=start, end=end, minutes=minutes, clinician=clinician, room=room, device=device,
        patient_id=patient.pk if patient is not None else None, course=course,
        moving=[moving] if moving is not None else None,
    )
    if course is not None:
        refusal = course_refusal(course, active=grid.course.active, moving=moving is not None)
        if refusal is not None:
            raise refusal
    return grid.slots()


NEXT_SESSION_SEARCH_DAYS = 14


def appointment_next_proposal(*, appointment: Appointment) -> PlannedSession | None:
    """Where "Book next session" proposes the course's next session: the first day after this one that the
    course's cadence allows (the planner's rule: a free day between sessions where the week still fits;
    a maintenance course one interval later), keeping this session's time of day, clinician, room and
    device where free, searched over two weeks inside the booking horizon. None when the course cannot be
    booked or nothing fits then."""
    course, location = appointment.course, appointment.location
    today = location.local(timezone.now()).date()
    if course.phase == CoursePhase.MAINTENANCE:
        start = appointment.local_date + timedelta(weeks=course.maintenance_interval_weeks)
    else:
        start = appointment.local_date + timedelta(days=1)
    start = max(start, today)
    end = min(start + timedelta(days=NEXT_SESSION_SEARCH_DAYS), today + timedelta(weeks=location.booking_horizon_weeks))
    if start >= end or not course.is_open:
        return None
    grid = availability_grid(location=location, start=start, end=end, minutes=course.session_minutes, course=course)
    if course_refusal(course, active=grid.course.active) is not None:
        return None
    local = location.local(appointment.starts_at)
    keep = Anchor(seconds=local.hour * 3600 + local.minute * 60, clinician_id=appointment.clinician_id,
                  room_id=appointment.room_id, device_id=appointment.device_id)
    plan = course_plan(grid=grid, course=course, count=1, first_number=grid.course.active + 1,
                       preferences=Preferences(), horizon_end=end, anchor=keep)
    return plan.sessions[0] if plan.sessions else None


def appointment_arrival_refusal(*, appointment: Appointment, now: datetime) -> str | None:
    """Why the patient cannot be marked arrived now, or None when they can: a booked session, on its
    local day. ``appointment_mark_arrived`` refuses with this text; the admin shows the button when None."""
    if appointment.status != AppointmentStatus.BOOKED:
        return f"This session is {appointment.get_status_display().lower()}, not booked."
    if appointment.local_date != appointment.location.local(now).date():
        return f"This session is on {appointment.local_date:%a %d %b}; arrivals are marked on the day."
    return None


def appointment_noshow_refusal(*, appointment: Appointment, now: datetime) -> str | None:
    """Why the session cannot be marked a no-show now, or None when it can: a booked session whose start
    has passed. ``appointment_mark_noshow`` refuses with this text; the admin shows the button when None."""
    if appointment.status != AppointmentStatus.BOOKED:
        return f"This session is {appointment.get_status_display().lower()}, not booked."
    if appointment.starts_at > now:
        return "A session can be marked as a no-show only once its start time has passed."
    return None


def appointment_is_upcoming(*, appointment: Appointment, now: datetime) -> bool:
    """Booked and not started: the only sessions a patient can still confirm or cancel."""
    return appointment.status == AppointmentStatus.BOOKED and appointment.starts_at > now


def appointment_late_window_opens_at(*, appointment: Appointment) -> datetime:
    """When the location's late-change window of a session opens: ``late_cancellation_hours`` before
    its start. From then on a patient calls the clinic instead of cancelling online, and a patient's
    cancellation counts as late (``appointment_late_window_opens_at_expression``, the same rule in SQL)."""
    return appointment.starts_at - timedelta(hours=appointment.location.late_cancellation_hours)


def appointment_late_window_opens_at_expression() -> ExpressionWrapper:
    """``appointment_late_window_opens_at`` as an SQL expression over an appointment queryset's rows,
    for reads that count late cancellations in the database (``scheduling.reports``)."""
    window = ExpressionWrapper(F("location__late_cancellation_hours") * Value(timedelta(hours=1)),
                               output_field=DurationField())
    return ExpressionWrapper(F("starts_at") - window, output_field=DateTimeField())


def appointment_late_cancellation_message(*, appointment: Appointment) -> str:
    location = appointment.location
    return (f"Your session is less than {location.late_cancellation_hours} hours away, so it can no longer be "
            f"cancelled online. Please call {location.name} on {location.phone}.")


class PatientLinkUse(enum.StrEnum):
    """What a patient's confirm or cancel link may do now."""

    ALLOWED = "allowed"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_AHEAD = "not_ahead"
    CALL_THE_CLINIC = "call_the_clinic"


def appointment_patient_link_use(*, appointment: Appointment, action: str, now: datetime) -> PatientLinkUse:
    """The patient's own ``action`` ("confirm" or "cancel"): a confirmation once, of an upcoming session;
    a cancellation of an upcoming session up to the location's ``late_cancellation_hours`` before it,
    after which the patient calls the clinic. The pages ask this before showing a button;
    ``appointment_cancel_by_patient`` refuses by the same answer, ``appointment_confirm`` by
    ``appointment_is_upcoming`` (a second confirmation changes nothing there)."""
    if action == "confirm" and appointment.confirmed_at is not None:
        return PatientLinkUse.ALREADY_CONFIRMED
    if not appointment_is_upcoming(appointment=appointment, now=now):
        return PatientLinkUse.NOT_AHEAD
    if action == "cancel" and now > appointment_late_window_opens_at(appointment=appointment):
        return PatientLinkUse.CALL_THE_CLINIC
    return PatientLinkUse.ALLOWED


# ---------------------------------------------------------------------------------------------
# Sessions left to book


def _course_sessions(**conditions) -> QuerySet[Appointment]:
    """The sessions of the course of the outer query that meet ``conditions``."""
    return Appointment.objects.filter(course=OuterRef("pk"), **conditions).order_by()


def _count_of(sessions: QuerySet[Appointment]) -> Coalesce:
    return Coalesce(Subquery(sessions.values("course").annotate(count=Count("pk")).values("count")), 0)


def course_annotate_left_to_book(*, courses: QuerySet[Course]) -> QuerySet[Course]:
    """``sessions_left_to_book`` on each course: its planned sessions not booked, arrived or fulfilled,
    never below 0 (a cancelled, missed or entered-in-error session gives its place back)."""
    taken = _count_of(_course_sessions(status__in=ACTIVE_STATUSES))
    return courses.annotate(sessions_left_to_book=Greatest(F("planned_sessions") - taken, 0,
                                                           output_field=IntegerField()))


def course_list_with_progress(*, courses: QuerySet[Course]) -> QuerySet[Course]:
    """Courses with their counts and next session (the admin's course lists), in the same single query. Each
    figure is a subquery of the course's own sessions, so a page of courses reads only its courses' sessions
    (counting every course's sessions before the page took 8 s at 1,000,000 appointments: bench/README.md)."""
    pending = _course_sessions(status__in=PENDING_STATUSES)
    return course_annotate_left_to_book(courses=courses.select_related("patient", "location")).annotate(
        done_count=_count_of(_course_sessions(status=AppointmentStatus.FULFILLED)),
        booked_count=_count_of(pending),
        next_starts_at=Subquery(pending.filter(starts_at__gte=timezone.now()).order_by("starts_at")
                                .values("starts_at")[:1]),
    )


def course_sessions_left_to_book(*, course: Course) -> int:
    return (course_annotate_left_to_book(courses=Course.objects.filter(pk=course.pk))
            .values_list("sessions_left_to_book", flat=True).get())


# ---------------------------------------------------------------------------------------------
# Maintenance due: the one rule behind the dashboard flag, the recall and the proposal


def course_annotate_maintenance(*, courses: QuerySet[Course]) -> QuerySet[Course]:
    """What "maintenance due" needs, on each course, in the same query (DESIGN.md: the calendar,
    last session plus interval, after a completed hyperhidrosis course).

    ``waits_for_maintenance``: the patient is between maintenance sessions with none booked. That is
    an open maintenance course with sessions left to book and none booked or arrived, or a completed
    initial hyperhidrosis course with no maintenance course open (a completed medicated course is
    over unless a clinician starts maintenance for it). Planned, active and discontinued initial
    courses, and closed maintenance courses, never wait.

    ``reported_hdss`` and ``reported_at``: the patient's latest HDSS check-in answer of the line since its
    last session (None without one), read by ``course_maintenance_due_at``.

    ``last_session_id`` and ``last_session_at``: the last fulfilled session of the patient's
    maintenance line (the initial course and the maintenance courses that follow it), from which
    the interval counts: a new maintenance course counts from the initial course's last session,
    and an initial course whose maintenance ended counts from the maintenance's last session.
    """
    has_pending = Exists(Appointment.objects.filter(course=OuterRef("pk"), status__in=PENDING_STATUSES))
    has_open_maintenance = Exists(Course.objects.filter(follows=OuterRef("pk"), status__in=OPEN_COURSE_STATUSES))
    waits = (Q(phase=CoursePhase.MAINTENANCE, status__in=OPEN_COURSE_STATUSES, sessions_left_to_book__gt=0)
             & ~has_pending
             | Q(phase=CoursePhase.INITIAL, status=CourseStatus.COMPLETED, indication=Indication.HYPERHIDROSIS)
             & ~has_open_maintenance)
    line = OuterRef(OuterRef("maintenance_line"))
    line_courses = Course.objects.filter(Q(pk=line) | Q(follows=line)).values("pk")
    last_session = (Appointment.objects.filter(status=AppointmentStatus.FULFILLED, course__in=line_courses)
                    .order_by("-starts_at"))
    report = (CheckIn.objects.filter(course__in=line_courses, hdss__isnull=False,
                                     answered_at__gt=OuterRef("last_session_at"))
              .order_by("-answered_at", "-pk"))
    return (course_annotate_left_to_book(courses=courses)
            .annotate(maintenance_line=Coalesce("follows_id", "pk"))
            .annotate(waits_for_maintenance=ExpressionWrapper(waits, output_field=BooleanField()),
                      last_session_id=Subquery(last_session.values("pk")[:1]),
                      last_session_at=Subquery(last_session.values("starts_at")[:1]))
            .annotate(reported_hdss=Subquery(report.values("hdss")[:1]),
                      reported_at=Subquery(report.values("answered_at")[:1])))


def course_sweating_returned(*, course: Course) -> bool:
    """The patient of a hyperhidrosis course waiting for maintenance reported HDSS 3 or 4 in their latest
    check-in since the line's last session: maintenance is due now. ``course`` comes from
    ``course_annotate_maintenance``."""
    return bool(course.waits_for_maintenance and course.indication == Indication.HYPERHIDROSIS
                and course.reported_hdss is not None and course.reported_hdss >= SWEATING_RETURNED_HDSS)


def sweating_returned_condition() -> Q:
    """``course_sweating_returned`` as a filter over ``course_annotate_maintenance``'s rows (the dashboard)."""
    return Q(waits_for_maintenance=True, indication=Indication.HYPERHIDROSIS,
             reported_hdss__gte=SWEATING_RETURNED_HDSS)


def course_maintenance_due_at(*, course: Course) -> datetime | None:
    """When the next maintenance session of ``course`` falls due, or None when none waits to be booked:
    the last session plus the course's interval, on the location's wall clock (a session at 09:00
    falls due at 09:00 across a daylight-saving change), or earlier, when the patient answered a check-in
    with HDSS 3 or 4 since that session (``course_sweating_returned``): then it is due from that answer.
    ``course`` is read again unless it comes
    from ``course_annotate_maintenance``."""
    if not hasattr(course, "waits_for_maintenance"):
        course = course_annotate_maintenance(courses=Course.objects.select_related("location")).get(pk=course.pk)
    if not course.waits_for_maintenance or course.last_session_at is None:
        return None
    wall = course.location.local(course.last_session_at).replace(tzinfo=None)
    due_at = (wall + timedelta(weeks=course.maintenance_interval_weeks)).replace(tzinfo=course.location.zone)
    if course_sweating_returned(course=course):
        return min(due_at, course.location.local(course.reported_at))
    return due_at


def course_maintenance_due_on(*, course: Course) -> date | None:
    """The location's day on which the next maintenance session falls due (``course_maintenance_due_at``)."""
    due_at = course_maintenance_due_at(course=course)
    return None if due_at is None else due_at.date()


@dataclass
class SessionFacts:
    """What one session to book meets: the closure in its way (the latest), the other active session it
    clashes with (the earliest), and the course's other active sessions in its week and the patient's on its day."""

    closure: Closure | None
    clash: Appointment | None
    in_week: int
    on_the_day: int


@dataclass
class BookingFacts:
    """Everything the booking rules read for the sessions of one call (``booking_facts``): the location's set-up,
    as the slot engine reads it, and the rest in one query."""

    setup: LocationSetup  # the location's active clinicians, opening hours and clinicians' working hours
    screening: Screening | None
    course_sessions: int  # the course's active sessions (those being moved left out)
    sessions: list[SessionFacts]
    # New sessions of an initial course only (True otherwise): the course has an active session before the first
    # of them, a recorded score or a planned baseline check-in (the facts of ``check_ins_on_booked``, read here to
    # spare it a query).
    baseline_blocked: bool = True


# The columns each rule reads: of another session (``appointments_clash``), of a closure (``closure_closes`` and
# the refusal's words: what it closes, when and why) and of the patient's screening (``screening_refusal``). Each
# key of a JSON row costs Django about 0.3 ms to build and compile (bench/README.md); a column not read here
# loads on first use.
CLASH_COLUMNS = ("id", "location_id", "patient_id", "clinician_id", "room_id", "device_id", "starts_at", "ends_at")
CLOSURE_COLUMNS = ("id", "location_id", "room_id", "device_id", "clinician_id", "starts_at", "ends_at", "reason")
SCREENING_COLUMNS = ("id", "for_medicated", "overridden_at", *CONTRAINDICATIONS, *MEDICATED_CONTRAINDICATIONS)


def _named(columns: tuple[str, ...]) -> dict[str, str]:
    return {column: column for column in columns}


def booking_facts(*, course: Course, appointments: list[Appointment]) -> BookingFacts:
    """What the booking rules need to judge ``appointments`` (new, or booked ones being moved, each with its
    ``local_date``), one query whatever their number: read after the course's lock, so the counts and
    clashes include every booking that held the lock before. The location's set-up (who works there, the
    opening and working hours) comes from the shared cache the slot engine reads (``setup_of``), so a free
    slot and a booking judge the hours alike.

    The sessions' facts come from four sets read for all of them at once, each bounded by an index: the
    location's closures over the sessions' span, the active sessions that could clash with one of them
    (their clinicians', the patient's, their rooms' and devices' starting within a longest session and the
    turnover buffer before each, as ``appointments_clash`` needs), the course's active sessions' days and the
    patient's on the sessions' days; the rules then decide each session in Python (``closure_closes``,
    ``appointments_clash``)."""
    location = course.location
    buffer = timedelta(minutes=location.turnover_minutes)
    clinician_ids = {appointment.clinician_id for appointment in appointments}
    moving = [appointment.pk for appointment in appointments if appointment.pk]
    active = Appointment.objects.filter(status__in=ACTIVE_STATUSES).exclude(pk__in=moving)
    # No session lasts longer than SESSION_MINUTES_MAX: these bounds on starts_at let the indexes on
    # (clinician|patient|location, starts_at) read only the sessions' span, and of it the hours around each.
    earliest = [appointment.starts_at - buffer - timedelta(minutes=SESSION_MINUTES_MAX) for appointment in appointments]
    latest = [appointment.ends_at + buffer for appointment in appointments]
    near = Q()
    for since, until in zip(earliest, latest, strict=True):
        near |= Q(starts_at__gte=since, starts_at__lt=until)
    near &= Q(starts_at__gte=min(earliest), starts_at__lt=max(latest))
    whose = (Q(clinician__in=clinician_ids) | Q(patient=course.patient_id)
             | Q(location=location) & (Q(room__in={appointment.room_id for appointment in appointments})
                                       | Q(device__in={appointment.device_id for appointment in appointments})))
    columns = {
        "screening": json_rows(Screening.objects.filter(pk=Subquery(
            course.patient.screenings.order_by("-recorded_at", "-id").values("pk")[:1])), **_named(SCREENING_COLUMNS)),
        "course_days": ArraySubquery(active.filter(course=course).order_by().values("local_date")),
        "patient_days": ArraySubquery(active.filter(
            patient=course.patient_id, local_date__in={appointment.local_date for appointment in appointments},
        ).order_by().values("local_date")),
        "closed": json_rows(closure_list_overlapping(
            location=location, starts_at=min(appointment.starts_at for appointment in appointments),
            ends_at=max(appointment.ends_at for appointment in appointments)), **_named(CLOSURE_COLUMNS)),
        "near": json_rows(active.filter(near, whose), **_named(CLASH_COLUMNS)),
    }
    if not moving and course.phase == CoursePhase.INITIAL:  # only an initial course plans a baseline check-in
        first = min(appointment.starts_at for appointment in appointments)
        columns["baseline_blocked"] = (
            Exists(Appointment.objects.filter(course=course, starts_at__lt=first).exclude(
                status__in=(AppointmentStatus.CANCELLED, AppointmentStatus.ENTERED_IN_ERROR)))
            | Exists(SessionRecord.objects.filter(Q(hdss__isnull=False) | Q(pain_nprs__isnull=False),
                                                  appointment__course=course))
            | Exists(CheckIn.objects.filter(course=course, purpose=CheckInPurpose.BASELINE)))
    row = Location.objects.filter(pk=location.pk).values(**columns).get()
    screening = [instance_from_json(Screening, fields) for fields in row["screening"]]
    closures = sorted((instance_from_json(Closure, fields) for fields in row["closed"]),
                      key=lambda closure: closure.starts_at, reverse=True)
    near = sorted((instance_from_json(Appointment, fields) for fields in row["near"]),
                  key=lambda other: (other.starts_at, other.pk))
    return BookingFacts(
        setup=setup_of(location),
        screening=screening[0] if screening else None,
        course_sessions=len(row["course_days"]),
        sessions=[SessionFacts(
            closure=next((closure for closure in closures if closure_closes(closure, appointment)), None),
            clash=next((other for other in near if appointments_clash(appointment, other, buffer=buffer)), None),
            in_week=sum(week_start(day) == week_start(appointment.local_date) for day in row["course_days"]),
            on_the_day=row["patient_days"].count(appointment.local_date),
        ) for appointment in appointments],
        baseline_blocked=row.get("baseline_blocked", True),
    )


def appointments_clash(appointment: Appointment, other: Appointment, *, buffer: timedelta) -> bool:
    """Whether another active appointment collides with this one: the same clinician or patient at an
    overlapping time, or the same room or device at the location within its turnover ``buffer``."""
    if other.pk == appointment.pk:
        return False
    if (other.starts_at < appointment.ends_at and other.ends_at > appointment.starts_at
            and (other.clinician_id == appointment.clinician_id or other.patient_id == appointment.patient_id)):
        return True
    return (other.location_id == appointment.location_id
            and (other.room_id == appointment.room_id or other.device_id == appointment.device_id)
            and other.starts_at < appointment.ends_at + buffer and other.ends_at > appointment.starts_at - buffer)
