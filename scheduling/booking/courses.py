"""Writes of courses: create, complete, discontinue, start maintenance, and book a whole course at once
(the planner lays out the sessions, each is booked under the rules of ``booking.services``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import ConflictError
from clinic.models import Device, Location, Room, Staff
from patients.models import Patient
from scheduling.booking.rules import course_refusal
from scheduling.booking.selectors import (
    MAINTENANCE_NOT_DUE,
    OPEN_COURSE_STATUSES,
    course_annotate_maintenance,
    course_maintenance_due_on,
)
from scheduling.booking.services import (
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
    book_sessions,
    locked_appointment,
    locked_course,
    new_session,
    require_clinical,
    save_validated,
)
from scheduling.checkins.services import check_ins_on_completed
from scheduling.engine.grid import CourseFacts, availability_grid, week_start
from scheduling.engine.planner import Anchor, CoursePlan, PlannedSession, Preferences, UnplacedSession, course_plan
from scheduling.engine.setup import seconds_of_day
from scheduling.models import (
    INITIAL_SESSIONS_MAX,
    INITIAL_SESSIONS_MIN,
    MAINTENANCE_INTERVAL_WEEKS_DEFAULT,
    MAINTENANCE_INTERVAL_WEEKS_MAX,
    MAINTENANCE_INTERVAL_WEEKS_MIN,
    MAINTENANCE_SESSIONS_DEFAULT,
    MAINTENANCE_SESSIONS_MAX,
    MAINTENANCE_SESSIONS_MIN,
    SESSIONS_PER_WEEK_DEFAULT,
    Appointment,
    AppointmentStatus,
    BodySite,
    CancelledBy,
    Course,
    CoursePhase,
    CourseStatus,
    Indication,
)
from scheduling.records.outcome import course_outcome_write
from scheduling.reminders.outbox import notifications_on_booked

COURSE_END_REFUSAL = "Only a clinician or a manager ends or extends a course."


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
    # Two plans for one site would book the patient twice over: lock the patient so two desks cannot both pass.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    open_course = Course.objects.filter(
        patient=patient, indication=indication, phase=CoursePhase.INITIAL, status__in=OPEN_COURSE_STATUSES,
        body_sites__overlap=list(body_sites)).first()
    if open_course is not None:
        shared = [BodySite(site).label.lower() for site in open_course.body_sites if site in body_sites]
        raise ValidationError({"body_sites": f"This patient already has an open "
                                             f"{Indication(indication).label.lower()} course for the "
                                             f"{' and '.join(shared)}; book its sessions, or complete or "
                                             "discontinue it first."})
    return save_validated(Course(
        patient=patient, location=location, indication=indication, body_sites=sorted(set(body_sites)),
        body_site_other=body_site_other.strip(), medication=medication.strip(), phase=CoursePhase.INITIAL,
        planned_sessions=planned_sessions, session_minutes=session_minutes, sessions_per_week=sessions_per_week,
        created_by=created_by,
    ))



@transaction.atomic
def course_complete(*, course: Course, completed_by) -> Course:
    require_clinical(completed_by, COURSE_END_REFUSAL)
    course = locked_course(course)
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
    course = save_validated(course)
    course_outcome_write(course=course)
    check_ins_on_completed(course=course)
    return course


@transaction.atomic
def course_discontinue(*, course: Course, discontinued_by, reason: str) -> Course:
    """Stop a course early; its booked sessions are cancelled by the clinic with the same reason."""
    require_clinical(discontinued_by, COURSE_END_REFUSAL)
    course = locked_course(course)
    if not course.is_open:
        raise ValidationError(f"This course is already {course.get_status_display().lower()}.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the course stops."})
    for appointment in course.appointments.filter(status__in=(AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)):
        appointment_cancel(appointment=appointment, recorded_by=discontinued_by, by=CancelledBy.CLINIC,
                           reason=f"Course discontinued: {reason.strip()}"[:200])
    course.status = CourseStatus.DISCONTINUED
    course.discontinued_reason = reason.strip()
    course.ended_at = timezone.now()
    course = save_validated(course)
    course_outcome_write(course=course)
    return course


@transaction.atomic
def course_start_maintenance(*, course: Course, created_by, interval_weeks: int = MAINTENANCE_INTERVAL_WEEKS_DEFAULT,
                             planned_sessions: int = MAINTENANCE_SESSIONS_DEFAULT) -> Course:
    """Plan maintenance after a completed initial course: single sessions a few weeks apart."""
    require_clinical(created_by, COURSE_END_REFUSAL)
    course = locked_course(course)
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
    return save_validated(Course(
        patient=course.patient, location=course.location, indication=course.indication,
        body_sites=course.body_sites, body_site_other=course.body_site_other, medication=course.medication,
        phase=CoursePhase.MAINTENANCE, follows=course, planned_sessions=planned_sessions,
        session_minutes=course.session_minutes, sessions_per_week=1, maintenance_interval_weeks=interval_weeks,
        created_by=created_by,
    ))


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
    course = locked_course(course)
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
    appointments = book_sessions(
        course=course, booked_by=booked_by,
        sessions=[new_session(course=course, clinician=session.clinician, room=session.room, device=session.device,
                              starts_at=session.starts_at, booked_by=booked_by) for session in plan.sessions],
        refused=lambda index, error: _not_fitting(plan, plan.sessions[index], error))
    for session, appointment in zip(plan.sessions, appointments, strict=True):
        session.appointment = appointment
    # Every session is booked: the one confirmation for the whole course, and each session's reminders.
    notifications_on_booked(appointments=[session.appointment for session in plan.sessions])
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
    course = locked_course(appointment.course_id)
    appointment = locked_appointment(appointment, expected_version, seen_by=rescheduled_by)
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
    return seconds_of_day(location.local(moment))


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
