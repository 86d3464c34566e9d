"""Whether a course works: its figures, its outcome series and what needs a clinician's attention.

Everything here reads; nothing writes. A course's progress costs the same few queries whatever
its length (the course, its appointments with their session records, the sites, the side
effects), and the clinician dashboard costs the same few queries whatever the number of courses.

The flags follow issue 8 and DESIGN.md:

- no response: an initial course with 6 or more fulfilled sessions, or 4 weeks (28 days) or more
  since its first fulfilled session, whose latest score is not better than the baseline (the first
  recorded score) by at least 1 HDSS point (hyperhidrosis) or 2 pain points (musculoskeletal).
  Maintenance courses start from an already improved score, so they are not judged on it.
- side effect: blistering of grade 2 or worse, or a burn of any grade, in the last recorded session
  (``SideEffect.raises_flag``): the clinician should consider lowering the current.
- adherence: a missed session (no-show), or, in an initial course, more than 7 days between two
  consecutive fulfilled sessions (maintenance sessions are weeks apart by design).
- follow-up due: an open course with sessions left to book (``course_annotate_left_to_book``); or a
  maintenance session due today or earlier (``course_annotate_maintenance``, the rule the recall
  and the maintenance proposal use too).
- dose: a medicated course whose last recorded session delivered 90% or more of the 80 mA·min
  limit of one session (72 mA·min: "near"), or the whole 80 mA·min ("at the limit").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from clinic.display import location_time
from clinic.models import StaffRole
from clinic.selectors import staff_role
from scheduling.booking.selectors import (
    course_annotate_maintenance,
    course_maintenance_due_on,
    course_sweating_returned,
    courses_visible_to,
    sweating_returned_condition,
)
from scheduling.checkins.selectors import ReportedPoint, reported_points_by_course, response_scores
from scheduling.models import (
    MEDICATED_DOSE_MAX_MA_MIN,
    Appointment,
    AppointmentStatus,
    BodySite,
    Course,
    CoursePhase,
    CourseStatus,
    Indication,
    SessionSite,
    SideEffect,
)

NO_RESPONSE_AFTER_SESSIONS = 6
NO_RESPONSE_AFTER_DAYS = 28
HDSS_RESPONSE_POINTS = 1
PAIN_RESPONSE_POINTS = 2
ADHERENCE_GAP_DAYS = 7
DOSE_NEAR_SHARE = Decimal("0.9")
DOSE_NEAR_MA_MIN = MEDICATED_DOSE_MAX_MA_MIN * DOSE_NEAR_SHARE  # 72 mA·min
PROGRESS_ROLES = (StaffRole.CLINICIAN, StaffRole.MANAGER)
PROGRESS_FORBIDDEN = "Only clinicians and managers of this course's location see its progress."


class FlagKind:
    NO_RESPONSE = "no_response"
    SIDE_EFFECT = "side_effect"
    ADHERENCE = "adherence"
    FOLLOW_UP = "follow_up"
    DOSE = "dose"
    SWEATING_RETURNED = "sweating_returned"

    LABELS = {
        NO_RESPONSE: "No response",
        SIDE_EFFECT: "Side effect",
        ADHERENCE: "Adherence",
        FOLLOW_UP: "Follow-up due",
        DOSE: "Dose",
        SWEATING_RETURNED: "Sweating returned",
    }


@dataclass(frozen=True)
class Flag:
    kind: str
    message: str

    @property
    def label(self) -> str:
        return FlagKind.LABELS[self.kind]


@dataclass(frozen=True)
class SiteCurrent:
    site: str
    label: str
    current_ma: Decimal


@dataclass(frozen=True)
class SideEffectSeen:
    kind: str
    label: str
    grade: int
    raises_flag: bool


@dataclass(frozen=True)
class SessionRow:
    """One appointment of the course; the clinical figures are there once the session is recorded."""

    appointment_id: int
    number: int | None  # 1, 2, ... over the fulfilled sessions
    date: date
    starts_at: datetime  # in the location's time zone
    starts_text: str  # as every screen shows it: 'Tue 15 Dec 2026 14:30 EST'
    status: str
    status_label: str
    clinician: str
    sites: tuple[SiteCurrent, ...] = ()
    minutes_of_current: int | None = None
    waveform: str = ""
    polarity_reversed: bool = False
    medium: str = ""
    dose_ma_min: Decimal | None = None
    cumulative_dose_ma_min: Decimal | None = None
    hdss: int | None = None
    pain_nprs: int | None = None
    sweat_mg_min: Decimal | None = None
    sweat_site: str = ""
    side_effects: tuple[SideEffectSeen, ...] = ()
    note: str = ""
    days_since_previous: int | None = None

    @property
    def is_recorded(self) -> bool:
        return self.minutes_of_current is not None

    @property
    def current_ma(self) -> Decimal | None:
        """The highest current of the session's sites: the figure to lower after a side effect."""
        return max((site.current_ma for site in self.sites), default=None)


@dataclass(frozen=True)
class OutcomePoint:
    number: int
    date: date
    value: Decimal


@dataclass(frozen=True)
class OutcomeSeries:
    measure: str  # hdss, pain_nprs, sweat_mg_min
    label: str
    unit: str
    scale_min: Decimal
    scale_max: Decimal | None
    points: tuple[OutcomePoint, ...]

    @property
    def baseline(self) -> Decimal | None:
        return self.points[0].value if self.points else None

    @property
    def latest(self) -> Decimal | None:
        return self.points[-1].value if self.points else None

    @property
    def change(self) -> Decimal | None:
        """Latest minus baseline: negative is better on every scale here."""
        return None if not self.points else self.latest - self.baseline


@dataclass(frozen=True)
class Gap:
    after: date
    before: date
    days: int


@dataclass
class CourseProgress:
    course: Course
    as_of: date
    planned: int
    booked: int  # booked or arrived: not done yet
    fulfilled: int
    cancelled: int
    noshow: int
    unbooked: int
    planned_gap_days: int
    long_gaps: list[Gap]
    sessions: list[SessionRow]
    outcome: OutcomeSeries
    sweat: OutcomeSeries | None
    cumulative_dose_ma_min: Decimal | None
    maintenance_due_on: date | None
    flags: list[Flag] = field(default_factory=list)
    reported: tuple[ReportedPoint, ...] = ()  # the patient's check-in answers (scheduling.checkins)

    @property
    def recorded_sessions(self) -> list[SessionRow]:
        return [row for row in self.sessions if row.is_recorded]


# ---------------------------------------------------------------------------------------------
# Who may see it


def progress_access_allowed(*, user, course: Course) -> bool:
    """Clinicians and managers of the course's location (a superuser is a manager); never the front desk."""
    if staff_role(user) not in PROGRESS_ROLES:
        return False
    return courses_visible_to(user=user).filter(pk=course.pk).exists()


# ---------------------------------------------------------------------------------------------
# Loading: a fixed number of queries


def _courses(rows: QuerySet[Course] = Course.objects) -> QuerySet[Course]:
    return course_annotate_maintenance(courses=rows.select_related("patient", "location"))


def course_get_for_progress(*, course_id: int, user) -> Course:
    """The course with what its progress needs (one query), for ``user`` to read.

    PermissionDenied for a role that never sees progress, before any lookup, so the answer is the same
    whether the course exists or not. Course.DoesNotExist when unknown, and also for a clinician or
    manager of another location: they learn nothing, not even that the course exists.
    """
    if staff_role(user) not in PROGRESS_ROLES:
        raise PermissionDenied(PROGRESS_FORBIDDEN)
    course = _courses().get(pk=course_id)
    if not progress_access_allowed(user=user, course=course):
        raise Course.DoesNotExist(f"No course {course_id} at this user's locations.")
    return course


def _appointments(course_ids: list[int]) -> dict[int, list[Appointment]]:
    appointments = (
        Appointment.objects.filter(course_id__in=course_ids)
        .exclude(status=AppointmentStatus.ENTERED_IN_ERROR)
        .select_related("session_record", "clinician__user")
        .prefetch_related(
            Prefetch("session_record__sites", queryset=SessionSite.objects.order_by("site")),
            Prefetch("session_record__side_effects", queryset=SideEffect.objects.order_by("-grade", "kind")),
        )
        .order_by("starts_at", "id")
    )
    by_course: dict[int, list[Appointment]] = {course_id: [] for course_id in course_ids}
    for appointment in appointments:
        by_course[appointment.course_id].append(appointment)
    return by_course


def course_progress(*, course: Course, today: date | None = None) -> CourseProgress:
    """The figures, outcome series and flags of one course (see the module docstring for the rules)."""
    if not hasattr(course, "waits_for_maintenance"):
        course = _courses().get(pk=course.pk)
    appointments = _appointments([course.pk])[course.pk]
    reported = reported_points_by_course(courses=[course])[course.pk]
    return _progress(course, appointments, today or course.location.local(timezone.now()).date(), reported)


def course_list_for_dashboard(*, user, today: date | None = None) -> list[CourseProgress]:
    """A clinician's open courses (those with a session booked with them), or every open course of a
    manager's locations, each with its progress; flagged courses first, most flags first."""
    role = staff_role(user)
    if role not in PROGRESS_ROLES:
        return []
    # Open courses, and completed ones whose patient reported the sweating back (maintenance due now).
    courses = _courses(courses_visible_to(user=user)).filter(
        Q(status__in=(CourseStatus.PLANNED, CourseStatus.ACTIVE)) | sweating_returned_condition())
    if role == StaffRole.CLINICIAN:
        courses = courses.filter(Exists(Appointment.objects.filter(course=OuterRef("pk"), clinician__user=user)))
    courses = list(courses.order_by("patient__last_name", "patient__first_name", "pk"))
    appointments = _appointments([course.pk for course in courses])
    reported = reported_points_by_course(courses=courses)
    progress = []
    for course in courses:
        day = today or course.location.local(timezone.now()).date()
        progress.append(_progress(course, appointments[course.pk], day, reported[course.pk]))
    # Stable sort: within the same number of flags the patients stay in name order.
    progress.sort(key=lambda item: -len(item.flags))
    return progress


# ---------------------------------------------------------------------------------------------
# Computing: pure Python over what was loaded


def _planned_gap_days(course: Course) -> int:
    """The longest gap the cadence itself makes: 3 a week spread Mon/Wed/Fri gives 3 (Fri to Mon),
    2 a week gives 4, 1 a week 7; maintenance sessions are their interval apart."""
    if course.phase == CoursePhase.MAINTENANCE:
        return course.maintenance_interval_weeks * 7
    return max(math.ceil(7 / course.sessions_per_week), 3)


def _session_rows(course: Course, appointments: list[Appointment]) -> list[SessionRow]:
    rows: list[SessionRow] = []
    number = 0
    cumulative = Decimal(0)
    previous_fulfilled: date | None = None
    for appointment in appointments:
        local_start = course.location.local(appointment.starts_at)
        common = {
            "appointment_id": appointment.pk, "date": appointment.local_date, "starts_at": local_start,
            "starts_text": location_time(course.location, appointment.starts_at),
            "status": appointment.status, "status_label": appointment.get_status_display(),
            "clinician": str(appointment.clinician),
        }
        record = getattr(appointment, "session_record", None)
        if appointment.status != AppointmentStatus.FULFILLED or record is None:
            rows.append(SessionRow(number=None, **common))
            continue
        number += 1
        dose = record.dose_ma_min if course.is_medicated else None
        if dose is not None:
            cumulative += dose
        rows.append(SessionRow(
            number=number, **common,
            sites=tuple(SiteCurrent(site.site, site.site_other or BodySite(site.site).label, site.current_ma)
                        for site in record.sites.all()),
            minutes_of_current=record.minutes_of_current, waveform=record.get_waveform_display(),
            polarity_reversed=record.polarity_reversed, medium=record.get_medium_display(),
            dose_ma_min=dose, cumulative_dose_ma_min=cumulative if course.is_medicated else None,
            hdss=record.hdss, pain_nprs=record.pain_nprs, sweat_mg_min=record.sweat_mg_min,
            sweat_site=record.get_sweat_site_display() if record.sweat_site else "",
            side_effects=tuple(SideEffectSeen(effect.kind, effect.kind_other or effect.get_kind_display(),
                                              effect.grade, effect.raises_flag)
                               for effect in record.side_effects.all()),
            note=record.note,
            days_since_previous=(appointment.local_date - previous_fulfilled).days if previous_fulfilled else None,
        ))
        previous_fulfilled = appointment.local_date
    return rows


def _series(course: Course, recorded: list[SessionRow]) -> tuple[OutcomeSeries, OutcomeSeries | None]:
    if course.indication == Indication.MUSCULOSKELETAL:
        outcome = OutcomeSeries(
            measure="pain_nprs", label="Pain (NPRS 0-10)", unit="points", scale_min=Decimal(0),
            scale_max=Decimal(10),
            points=tuple(OutcomePoint(row.number, row.date, Decimal(row.pain_nprs))
                         for row in recorded if row.pain_nprs is not None),
        )
    else:
        outcome = OutcomeSeries(
            measure="hdss", label="HDSS (1-4)", unit="points", scale_min=Decimal(1), scale_max=Decimal(4),
            points=tuple(OutcomePoint(row.number, row.date, Decimal(row.hdss))
                         for row in recorded if row.hdss is not None),
        )
    sweat_points = tuple(OutcomePoint(row.number, row.date, row.sweat_mg_min)
                         for row in recorded if row.sweat_mg_min is not None)
    sweat = None
    if sweat_points:
        sweat = OutcomeSeries(measure="sweat_mg_min", label="Sweat rate (mg/min)", unit="mg/min",
                              scale_min=Decimal(0), scale_max=None, points=sweat_points)
    return outcome, sweat


def _day(value: date) -> str:
    return f"{value:%a %d %b %Y}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _progress(course: Course, appointments: list[Appointment], today: date,
              reported: tuple[ReportedPoint, ...] = ()) -> CourseProgress:
    rows = _session_rows(course, appointments)
    recorded = [row for row in rows if row.is_recorded]
    counts = dict.fromkeys(AppointmentStatus.values, 0)
    for appointment in appointments:
        counts[appointment.status] += 1
    booked = counts[AppointmentStatus.BOOKED] + counts[AppointmentStatus.ARRIVED]
    fulfilled = counts[AppointmentStatus.FULFILLED]
    planned_gap = _planned_gap_days(course)
    long_gaps = [Gap(after=row.date - timedelta(days=row.days_since_previous), before=row.date,
                     days=row.days_since_previous)
                 for row in recorded if row.days_since_previous is not None and row.days_since_previous > planned_gap]
    outcome, sweat = _series(course, recorded)
    progress = CourseProgress(
        course=course, as_of=today, planned=course.planned_sessions, booked=booked, fulfilled=fulfilled,
        cancelled=counts[AppointmentStatus.CANCELLED], noshow=counts[AppointmentStatus.NOSHOW],
        unbooked=course.sessions_left_to_book,
        planned_gap_days=planned_gap, long_gaps=long_gaps, sessions=rows, outcome=outcome, sweat=sweat,
        cumulative_dose_ma_min=recorded[-1].cumulative_dose_ma_min if recorded and course.is_medicated else None,
        maintenance_due_on=course_maintenance_due_on(course=course), reported=reported,
    )
    progress.flags = [flag for flag in (
        _no_response_flag(progress), _side_effect_flag(recorded, reported), _adherence_flag(progress, rows),
        _follow_up_flag(progress), _dose_flag(course, recorded), _sweating_returned_flag(course),
    ) if flag is not None]
    return progress


def _no_response_flag(progress: CourseProgress) -> Flag | None:
    course, outcome = progress.course, progress.outcome
    if course.phase != CoursePhase.INITIAL or not progress.recorded_sessions:
        return None
    days = (progress.as_of - progress.recorded_sessions[0].date).days
    if progress.fulfilled < NO_RESPONSE_AFTER_SESSIONS and days < NO_RESPONSE_AFTER_DAYS:
        return None
    baseline, latest = response_scores(progress)
    if baseline is None:
        return None
    needed = HDSS_RESPONSE_POINTS if outcome.measure == "hdss" else PAIN_RESPONSE_POINTS
    if baseline - latest >= needed:
        return None
    name = "HDSS" if outcome.measure == "hdss" else "Pain"
    after = (_plural(progress.fulfilled, "session") if progress.fulfilled >= NO_RESPONSE_AFTER_SESSIONS
             else f"{days} days")
    return Flag(FlagKind.NO_RESPONSE,
                f"No response after {after}: {name} {baseline} at baseline, {latest} now "
                f"(a response is a fall of {needed} or more).")


def _side_effect_flag(recorded: list[SessionRow], reported: tuple[ReportedPoint, ...] = ()) -> Flag | None:
    """A grade 2+ blistering or a burn in the last recorded session, or reported by the patient since it."""
    since = [point for point in reported if point.raises_flag and (not recorded or point.date >= recorded[-1].date)]
    if since:
        point = since[-1]
        return Flag(FlagKind.SIDE_EFFECT, f"The patient reported {point.skin_reaction_label.lower()} on "
                                          f"{_day(point.date)} (check-in): consider lowering the current.")
    if not recorded:
        return None
    last = recorded[-1]
    serious = [effect for effect in last.side_effects if effect.raises_flag]
    if not serious:
        return None
    effects = ", ".join(f"{effect.label} grade {effect.grade}" for effect in serious)
    return Flag(FlagKind.SIDE_EFFECT,
                f"{effects} in the last session ({_day(last.date)}): consider lowering the current "
                f"(it was {last.current_ma} mA).")


def _adherence_flag(progress: CourseProgress, rows: list[SessionRow]) -> Flag | None:
    parts = []
    missed = [row for row in rows if row.status == AppointmentStatus.NOSHOW]
    if missed:
        parts.append(f"{_plural(len(missed), 'missed session')} ({', '.join(_day(row.date) for row in missed)})")
    if progress.course.phase == CoursePhase.INITIAL:
        for row in progress.recorded_sessions:
            if row.days_since_previous is not None and row.days_since_previous > ADHERENCE_GAP_DAYS:
                after = row.date - timedelta(days=row.days_since_previous)
                parts.append(f"{row.days_since_previous} days between sessions ({_day(after)} to {_day(row.date)})")
    if not parts:
        return None
    text = "; ".join(parts)
    return Flag(FlagKind.ADHERENCE, text[0].upper() + text[1:] + ".")


def _follow_up_flag(progress: CourseProgress) -> Flag | None:
    parts = []
    if progress.course.is_open and progress.unbooked:
        parts.append(f"{progress.unbooked} of {_plural(progress.planned, 'planned session')} "
                     f"{'is' if progress.unbooked == 1 else 'are'} not booked")
    due = progress.maintenance_due_on
    if due is not None and due <= progress.as_of:
        parts.append(f"maintenance session due since {_day(due)} and not booked")
    if not parts:
        return None
    text = "; ".join(parts)
    return Flag(FlagKind.FOLLOW_UP, text[0].upper() + text[1:] + ".")


def _dose_flag(course: Course, recorded: list[SessionRow]) -> Flag | None:
    if not course.is_medicated or not recorded or recorded[-1].dose_ma_min is None:
        return None
    dose = recorded[-1].dose_ma_min
    if dose >= MEDICATED_DOSE_MAX_MA_MIN:
        return Flag(FlagKind.DOSE, f"The last session's dose of {dose} mA·min is at the limit of "
                                   f"{MEDICATED_DOSE_MAX_MA_MIN} mA·min.")
    if dose >= DOSE_NEAR_MA_MIN:
        return Flag(FlagKind.DOSE, f"The last session's dose of {dose} mA·min is near the limit of "
                                   f"{MEDICATED_DOSE_MAX_MA_MIN} mA·min.")
    return None


def _sweating_returned_flag(course: Course) -> Flag | None:
    if not course_sweating_returned(course=course):
        return None
    answered = course.location.local(course.reported_at)
    return Flag(FlagKind.SWEATING_RETURNED, f"The patient reported HDSS {course.reported_hdss} on "
                f"{_day(answered.date())} (check-in): maintenance is due now; the patient was invited to book.")
