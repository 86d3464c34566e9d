"""Every figure of the managers' reports, computed once, in the database, in a fixed number of queries.

docs/reports.md says how each figure is computed. A period is a range of local days [start, end] at each
location: an appointment belongs to the day of its ``local_date`` (its day at its location), a week is
the Monday-to-Sunday week of that local day, and an hour is the hour of the location's wall clock, so a
session at 09:00 counts in the 09:00 hour on both sides of a daylight-saving change. Only managers (and
superusers) read these figures (``report_access_check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Left, TruncWeek
from django.utils import timezone

from clinic.models import Location, StaffRole
from clinic.selectors import locations_visible_to, staff_role
from patients.models import AuditAction, AuditEvent
from scheduling.booking.selectors import appointment_late_window_opens_at_expression
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    CancelledBy,
    ConfirmationChannel,
    Course,
    CoursePhase,
    CourseStatus,
    Indication,
    Notification,
    NotificationStatus,
    SessionRecord,
    SideEffect,
)
from scheduling.records.progress import HDSS_RESPONSE_POINTS, PAIN_RESPONSE_POINTS

REPORTS_FORBIDDEN = "Only managers see the reports."
DEFAULT_WEEKS = 4
MAX_DAYS = 366 * 2


# ---------------------------------------------------------------------------------------------
# Who and what: the manager, the period and the locations


def report_access_allowed(*, user) -> bool:
    """Managers see the reports (a superuser acts as one); the front desk and clinicians do not."""
    return staff_role(user) == StaffRole.MANAGER


def report_access_check(*, user) -> None:
    """PermissionDenied unless ``report_access_allowed``: the pages, the API (session or token) and the CSV
    exports all ask this before reading anything."""
    if not report_access_allowed(user=user):
        raise PermissionDenied(REPORTS_FORBIDDEN)


@dataclass(frozen=True)
class ReportPeriod:
    """Local days ``start`` to ``end``, both included, at ``locations`` (ids), or every location."""

    start: date
    end: date
    location: Location | None
    location_ids: tuple[int, ...]

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def instants(self) -> tuple[datetime, datetime]:
        """Instants that hold every location's local days of the period (UTC offsets run from -12 to +14
        hours): a bound on ``starts_at`` that lets the indexes on it narrow what is read."""
        return (datetime.combine(self.start, time(), tzinfo=UTC) - timedelta(hours=15),
                datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC) + timedelta(hours=13))

    @property
    def details(self) -> dict:
        """What was asked, for the audit trail."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "location": self.location.pk if self.location is not None else None}

    @property
    def previous(self) -> ReportPeriod:
        """The period of the same length just before this one, for comparison."""
        return ReportPeriod(start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1),
                            location=self.location, location_ids=self.location_ids)


def report_period(*, user, start: date | None = None, end: date | None = None,
                  location_id: int | None = None) -> ReportPeriod:
    """The period asked for, checked: by default the last four weeks up to yesterday (the server's day);
    ``ValidationError`` with field messages for an end before the start, more than two years, or a
    location the user does not see."""
    report_access_check(user=user)
    errors = {}
    if end is None:
        end = timezone.localdate() - timedelta(days=1)
    if start is None:
        start = end - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
    if end < start:
        errors["end"] = f"The end ({end:%d %b %Y}) is before the start ({start:%d %b %Y})."
    elif (end - start).days + 1 > MAX_DAYS:
        errors["end"] = f"A report covers at most {MAX_DAYS} days; choose a shorter range."
    visible = locations_visible_to(user=user)
    location = None
    if location_id is not None:
        location = visible.filter(pk=location_id).first()
        if location is None:
            errors["location"] = f"There is no location {location_id}."
    if errors:
        raise ValidationError(errors)
    ids = (location.pk,) if location is not None else tuple(visible.order_by("pk").values_list("pk", flat=True))
    return ReportPeriod(start=start, end=end, location=location, location_ids=ids)


def _appointments(period: ReportPeriod):
    earliest, latest = period.instants
    return Appointment.objects.filter(location_id__in=period.location_ids, local_date__gte=period.start,
                                      local_date__lte=period.end, starts_at__gte=earliest,
                                      starts_at__lt=latest).order_by()


def _rate(part: int, whole: int) -> float | None:
    return None if not whole else round(100 * part / whole, 1)


class LocalDay(Func):
    """An instant's day on the wall clock of the row's location (``zone``: the path to its time zone)."""

    template = "(timezone(%(expressions)s))::date"
    output_field = DateField()

    def __init__(self, instant: str, zone: str):
        super().__init__(F(zone), F(instant))


def _run(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# ---------------------------------------------------------------------------------------------
# 1. Utilization

BOOKED_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED,
                   AppointmentStatus.NOSHOW)

# One statement for the three kinds of resource. Open time is worked out per *schedule* and day (a
# location's opening hours, or one clinician's own working hours at a location), less the closures of the
# whole location; each room, device and clinician takes its schedule's minutes, less its own closures.
# So the cost follows the locations' days, not the resources times the days.
_UTILIZATION_SQL = """
WITH resources AS (
  SELECT 'room' AS kind, r.id AS resource_id, r.location_id, 'l' || r.location_id AS schedule, r.name AS label
  FROM clinic_room r WHERE r.is_active AND r.location_id = ANY(%(locations)s)
  UNION ALL
  SELECT 'device', d.id, d.location_id, 'l' || d.location_id, d.model || ' #' || d.serial_number
  FROM clinic_device d WHERE d.in_service AND d.location_id = ANY(%(locations)s)
  UNION ALL
  SELECT 'clinician', s.id, sl.location_id,
         CASE WHEN EXISTS (SELECT 1 FROM clinic_workinghours w WHERE w.clinician_id = s.id
                           AND w.location_id = sl.location_id)
              THEN 'c' || s.id || '-' || sl.location_id ELSE 'l' || sl.location_id END,
         trim(u.first_name || ' ' || u.last_name)
  FROM clinic_staff s JOIN clinic_staff_locations sl ON sl.staff_id = s.id JOIN auth_user u ON u.id = s.user_id
  WHERE s.role = 'clinician' AND s.is_active AND sl.location_id = ANY(%(locations)s)
),
hours AS (
  SELECT 'l' || oh.location_id AS schedule, oh.location_id, oh.weekday, oh.opens_at AS starts, oh.closes_at AS ends
  FROM clinic_openinghours oh WHERE oh.location_id = ANY(%(locations)s)
  UNION ALL
  SELECT 'c' || wh.clinician_id || '-' || wh.location_id, wh.location_id, wh.weekday, wh.starts_at, wh.ends_at
  FROM clinic_workinghours wh WHERE wh.location_id = ANY(%(locations)s)
),
days AS (
  SELECT l.id AS location_id, l.time_zone, d::date AS day
  FROM clinic_location l, generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
  WHERE l.id = ANY(%(locations)s)
),
free AS (
  SELECT h.schedule, h.location_id, days.day,
         range_agg(tstzrange(timezone(days.time_zone, days.day + h.starts),
                             timezone(days.time_zone, days.day + h.ends)))
         - COALESCE((
           SELECT range_agg(tstzrange(c.starts_at, c.ends_at)) FROM clinic_closure c
           WHERE c.location_id = h.location_id AND c.room_id IS NULL AND c.device_id IS NULL AND c.clinician_id IS NULL
             AND c.starts_at < timezone(days.time_zone, (days.day + 1)::timestamp)
             AND c.ends_at > timezone(days.time_zone, days.day::timestamp)
         ), '{}'::tstzmultirange) AS free
  FROM hours h JOIN days ON days.location_id = h.location_id AND h.weekday = EXTRACT(isodow FROM days.day) - 1
  GROUP BY h.schedule, h.location_id, days.day, days.time_zone
),
free_minutes AS (
  SELECT f.schedule, f.location_id, f.day, f.free,
         (SELECT COALESCE(SUM(EXTRACT(EPOCH FROM upper(p) - lower(p))::float8), 0) / 60
          FROM unnest(f.free) AS p) AS minutes
  FROM free f
),
own_closures AS (
  SELECT r.kind, r.resource_id, m.day, m.minutes - (
           SELECT COALESCE(SUM(EXTRACT(EPOCH FROM upper(p) - lower(p))::float8), 0) / 60
           FROM unnest(m.free - range_agg(tstzrange(c.starts_at, c.ends_at))) AS p) AS lost
  FROM clinic_closure c
  JOIN resources r ON r.location_id = c.location_id AND r.resource_id = CASE r.kind WHEN 'room' THEN c.room_id
                                                                       WHEN 'device' THEN c.device_id
                                                                       ELSE c.clinician_id END
  JOIN free_minutes m ON m.schedule = r.schedule AND m.location_id = r.location_id
                     AND m.free && tstzrange(c.starts_at, c.ends_at)
  WHERE c.location_id = ANY(%(locations)s)
  GROUP BY r.kind, r.resource_id, m.day, m.minutes, m.free
),
weekly_minutes AS (
  SELECT schedule, location_id, date_trunc('week', day)::date AS week, SUM(minutes) AS minutes
  FROM free_minutes GROUP BY 1, 2, 3
),
open_minutes AS (
  SELECT r.kind, r.resource_id, w.week, SUM(w.minutes) AS minutes
  FROM resources r JOIN weekly_minutes w ON w.schedule = r.schedule AND w.location_id = r.location_id
  GROUP BY 1, 2, 3
),
lost AS (
  SELECT kind, resource_id, date_trunc('week', day)::date AS week, SUM(lost) AS minutes
  FROM own_closures GROUP BY 1, 2, 3
),
sessions AS (
  SELECT a.room_id, a.device_id, a.clinician_id, date_trunc('week', a.local_date)::date AS week,
         EXTRACT(EPOCH FROM a.ends_at - a.starts_at)::float8 / 60 AS minutes, a.status = 'fulfilled' AS fulfilled,
         EXTRACT(isodow FROM timezone(l.time_zone, a.starts_at))::int AS weekday,
         EXTRACT(hour FROM timezone(l.time_zone, a.starts_at))::int AS hour
  FROM scheduling_appointment a JOIN clinic_location l ON l.id = a.location_id
  WHERE a.location_id = ANY(%(locations)s) AND a.local_date BETWEEN %(start)s AND %(end)s
    AND a.starts_at >= %(earliest)s AND a.starts_at < %(latest)s AND a.status = ANY(%(booked_statuses)s)
),
counted AS (
  SELECT CASE WHEN GROUPING(room_id) = 0 THEN 'room' WHEN GROUPING(device_id) = 0 THEN 'device'
              WHEN GROUPING(clinician_id) = 0 THEN 'clinician' ELSE 'hour' END AS kind,
         COALESCE(room_id, device_id, clinician_id, weekday) AS resource_id, week, hour, count(*) AS sessions,
         SUM(minutes) AS booked, SUM(minutes) FILTER (WHERE fulfilled) AS fulfilled
  FROM sessions
  GROUP BY GROUPING SETS ((room_id, week), (device_id, week), (clinician_id, week), (weekday, hour))
),
booked AS (SELECT * FROM counted WHERE kind <> 'hour'),
usage AS (
  SELECT kind, resource_id, week, SUM(open) AS open, SUM(booked) AS booked, SUM(fulfilled) AS fulfilled FROM (
    SELECT kind, resource_id, week, minutes AS open, 0 AS booked, 0 AS fulfilled FROM open_minutes
    UNION ALL SELECT kind, resource_id, week, -minutes, 0, 0 FROM lost
    UNION ALL SELECT kind, resource_id, week, 0, booked, COALESCE(fulfilled, 0) FROM booked
  ) AS parts GROUP BY 1, 2, 3
),
names AS (
  SELECT 'room' AS kind, id, name AS label FROM clinic_room
  UNION ALL SELECT 'device', id, model || ' #' || serial_number FROM clinic_device
  UNION ALL SELECT 'clinician', s.id, trim(u.first_name || ' ' || u.last_name)
  FROM clinic_staff s JOIN auth_user u ON u.id = s.user_id
)
SELECT u.kind, u.resource_id, n.label, u.week, round(u.open)::int, round(u.booked)::int, round(u.fulfilled)::int
FROM usage u JOIN names n ON n.kind = u.kind AND n.id = u.resource_id
UNION ALL
-- The heat map from the same pass over the sessions: (weekday, hour, sessions) in the last three columns.
SELECT 'hour', NULL, NULL, NULL, resource_id, hour, sessions::int FROM counted WHERE kind = 'hour'
"""


@dataclass(frozen=True)
class UsageRow:
    kind: str  # room, device, clinician
    resource_id: int
    label: str
    week: date | None  # None: the whole period
    open_minutes: int
    booked_minutes: int
    fulfilled_minutes: int

    @property
    def booked_percent(self) -> float | None:
        return _rate(self.booked_minutes, self.open_minutes)

    @property
    def fulfilled_percent(self) -> float | None:
        return _rate(self.fulfilled_minutes, self.open_minutes)


@dataclass
class UtilizationReport:
    period: ReportPeriod
    weekly: list[UsageRow]  # per resource and week
    totals: list[UsageRow]  # per resource, the whole period
    heat: dict[tuple[int, int], int]  # (ISO weekday 1-7, local hour) -> booked sessions starting then
    summary: dict[str, float | int | None] = field(default_factory=dict)

    def by_kind(self, kind: str) -> list[UsageRow]:
        return [row for row in self.totals if row.kind == kind]


def report_utilization(*, period: ReportPeriod) -> UtilizationReport:
    """Booked and fulfilled minutes against open minutes per room, device and clinician, per week and for
    the period, and the booked sessions by weekday and hour (one query)."""
    rows = _run(_UTILIZATION_SQL, {
        "locations": list(period.location_ids), "start": period.start, "end": period.end,
        "earliest": period.instants[0], "latest": period.instants[1], "booked_statuses": list(BOOKED_STATUSES)})
    heat = {(weekday, hour): sessions for kind, *_, weekday, hour, sessions in rows if kind == "hour"}
    order = {"room": 0, "device": 1, "clinician": 2}
    weekly = [UsageRow(*row) for row in sorted((row for row in rows if row[0] != "hour"),
                                               key=lambda row: (order[row[0]], row[2], row[1], row[3]))]
    whole: dict[tuple[str, int], list] = {}
    for row in weekly:
        total = whole.setdefault((row.kind, row.resource_id), [row.label, 0, 0, 0])
        total[1] += row.open_minutes
        total[2] += row.booked_minutes
        total[3] += row.fulfilled_minutes
    totals = [UsageRow(kind, resource_id, label, None, open_minutes, booked, fulfilled)
              for (kind, resource_id), (label, open_minutes, booked, fulfilled) in whole.items()]
    rooms = [row for row in totals if row.kind == "room"]
    open_minutes = sum(row.open_minutes for row in rooms)
    report = UtilizationReport(period=period, weekly=weekly, totals=totals, heat=heat)
    report.summary = {
        "room_open_minutes": open_minutes,
        "room_booked_minutes": sum(row.booked_minutes for row in rooms),
        "room_fulfilled_minutes": sum(row.fulfilled_minutes for row in rooms),
        "room_booked_percent": _rate(sum(row.booked_minutes for row in rooms), open_minutes),
        "room_fulfilled_percent": _rate(sum(row.fulfilled_minutes for row in rooms), open_minutes),
    }
    return report


# ---------------------------------------------------------------------------------------------
# 2. Attendance


def late_cancellation_q() -> Q:
    """Cancelled by the patient once the location's late-change window had opened (the rule of
    ``appointment_late_window_opens_at``); the queryset needs the ``late_window_opens_at`` annotation."""
    return Q(status=AppointmentStatus.CANCELLED, cancelled_by=CancelledBy.PATIENT,
             status_changed_at__gt=F("late_window_opens_at"))


ATTENDANCE_FIGURES = ("sessions", "attended", "noshows", "cancelled", "late_cancellations")

# The sessions of the period are read once: each row carries its flags (worked out by the ORM, so the
# late-change rule is the one of ``late_cancellation_q``), and one GROUPING SETS pass counts them by
# location and week, by clinician, and confirmed or not, with the names joined to the counted rows.
_ATTENDANCE_SQL = """
WITH counted AS (
  SELECT location_id, week, clinician_id, confirmed, GROUPING(location_id) AS by_clinician_or_confirmation,
         GROUPING(clinician_id) AS not_by_clinician,
         count(*) AS sessions, count(*) FILTER (WHERE attended) AS attended, count(*) FILTER (WHERE noshow) AS noshows,
         count(*) FILTER (WHERE cancelled) AS cancelled, count(*) FILTER (WHERE late) AS late_cancellations,
         count(*) FILTER (WHERE by_link) AS by_link
  FROM ({rows}) AS session GROUP BY GROUPING SETS ((location_id, week), (clinician_id), (confirmed))
)
SELECT c.location_id, c.week::date, c.clinician_id, c.confirmed, c.by_clinician_or_confirmation, c.not_by_clinician,
       c.sessions, c.attended, c.noshows, c.cancelled, c.late_cancellations, c.by_link,
       l.name, trim(u.first_name || ' ' || u.last_name)
FROM counted c LEFT JOIN clinic_location l ON l.id = c.location_id
LEFT JOIN clinic_staff s ON s.id = c.clinician_id LEFT JOIN auth_user u ON u.id = s.user_id
ORDER BY c.week, l.name, u.last_name, c.clinician_id
"""


@dataclass(frozen=True)
class AttendanceRow:
    key: str
    label: str
    sessions: int
    attended: int
    noshows: int
    cancelled: int
    late_cancellations: int

    @property
    def noshow_percent(self) -> float | None:
        return _rate(self.noshows, self.sessions)

    @property
    def late_cancellation_percent(self) -> float | None:
        return _rate(self.late_cancellations, self.sessions)


@dataclass
class AttendanceReport:
    period: ReportPeriod
    total: AttendanceRow
    weekly: list[AttendanceRow]
    by_clinician: list[AttendanceRow]
    by_location: list[AttendanceRow]
    repeat_noshows: list[dict]  # patient_id, name, noshows
    confirmed_by_link: int
    confirmed: AttendanceRow  # sessions confirmed before their start
    unconfirmed: AttendanceRow
    summary: dict[str, float | int | None] = field(default_factory=dict)


def _row(key, label, values: dict) -> AttendanceRow:
    return AttendanceRow(key=str(key), label=label, **{name: values[name] or 0 for name in ATTENDANCE_FIGURES})


def _add(target: dict, values: dict) -> None:
    for name in ATTENDANCE_FIGURES:
        target[name] = target.get(name, 0) + values[name]


def report_attendance(*, period: ReportPeriod) -> AttendanceReport:
    """No-shows and late cancellations per week, clinician and location; patients with two or more no-shows;
    confirmations before the session and the no-show rate with and without one (two queries)."""
    rows = _appointments(period).exclude(status=AppointmentStatus.ENTERED_IN_ERROR).annotate(
        late_window_opens_at=appointment_late_window_opens_at_expression())
    confirmed_first = Q(confirmed_at__isnull=False, confirmed_at__lt=F("starts_at"))
    flags = {
        "attended": Q(status__in=(AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED)),
        "noshow": Q(status=AppointmentStatus.NOSHOW),
        "cancelled": Q(status=AppointmentStatus.CANCELLED),
        "late": late_cancellation_q(),
        "confirmed": confirmed_first,
        "by_link": confirmed_first & Q(confirmed_via=ConfirmationChannel.EMAIL_LINK),
    }
    session_rows = rows.values("location_id", "clinician_id", week=TruncWeek("local_date"), **{
        name: ExpressionWrapper(condition, output_field=BooleanField()) for name, condition in flags.items()})
    # Django's own compiled query, its values kept apart as parameters; only that text goes into the SQL.
    sql, params = session_rows.query.sql_with_params()
    weeks: dict[date, dict] = {}
    locations: dict[int, dict] = {}
    by_clinician, confirmations = [], {}
    for (location_id, week, clinician_id, confirmed, by_other, not_by_clinician, *counts, by_link, location_name,
         clinician_name) in _run(_ATTENDANCE_SQL.format(rows=sql), params):
        values = dict(zip(ATTENDANCE_FIGURES, counts, strict=True))
        if not by_other:
            _add(weeks.setdefault(week, {}), values)
            _add(locations.setdefault(location_id, {"label": location_name}), values)
        elif not not_by_clinician:
            by_clinician.append(_row(clinician_id, clinician_name, values))
        else:
            confirmations[bool(confirmed)] = {**values, "by_link": by_link}
    total = {}
    for values in locations.values():
        _add(total, values)
    empty = dict.fromkeys(ATTENDANCE_FIGURES, 0)
    repeat = [{"patient_id": values["patient_id"], "name": f"{values['patient__first_name']} "
                                                             f"{values['patient__last_name']}",
               "noshows": values["noshows"]}
              for values in rows.filter(status=AppointmentStatus.NOSHOW)
              .values("patient_id", "patient__first_name", "patient__last_name")
              .annotate(noshows=Count("pk")).filter(noshows__gte=2)
              .order_by("-noshows", "patient__last_name", "patient_id")]
    report = AttendanceReport(
        period=period, total=_row("all", "All", total or empty),
        weekly=[_row(week, f"{week:%d %b %Y}", values) for week, values in sorted(weeks.items())],
        by_clinician=by_clinician,
        by_location=[_row(key, values["label"], values) for key, values in locations.items()],
        repeat_noshows=repeat, confirmed_by_link=confirmations.get(True, {}).get("by_link", 0),
        confirmed=_row("confirmed", "Confirmed before the session", confirmations.get(True, empty)),
        unconfirmed=_row("unconfirmed", "Not confirmed", confirmations.get(False, empty)),
    )
    report.summary = {"sessions": report.total.sessions, "noshow_percent": report.total.noshow_percent,
                      "late_cancellation_percent": report.total.late_cancellation_percent}
    return report


# ---------------------------------------------------------------------------------------------
# 3. Courses and outcomes

_RESPONSE_SQL = """
WITH ended AS (
  SELECT c.id, c.indication,
         CASE WHEN c.indication = 'musculoskeletal' THEN %(pain_points)s ELSE %(hdss_points)s END AS needed
  FROM scheduling_course c JOIN clinic_location l ON l.id = c.location_id
  WHERE c.phase = 'initial' AND c.status IN ('completed', 'discontinued') AND c.location_id = ANY(%(locations)s)
    AND c.ended_at >= %(earliest)s AND c.ended_at < %(latest)s
    AND (timezone(l.time_zone, c.ended_at))::date BETWEEN %(start)s AND %(end)s
),
recorded AS (
  SELECT a.course_id, CASE WHEN e.indication = 'musculoskeletal' THEN r.pain_nprs ELSE r.hdss END AS score,
         row_number() OVER (PARTITION BY a.course_id ORDER BY a.starts_at, a.id) AS number
  FROM ended e JOIN scheduling_appointment a ON a.course_id = e.id AND a.status = 'fulfilled'
  JOIN scheduling_sessionrecord r ON r.appointment_id = a.id
),
scored AS (
  SELECT course_id, score, number,
         first_value(score) OVER course_scores AS baseline,
         last_value(score) OVER course_scores AS latest,
         count(*) OVER course_scores AS scores
  FROM recorded WHERE score IS NOT NULL
  WINDOW course_scores AS (PARTITION BY course_id ORDER BY number ROWS BETWEEN UNBOUNDED PRECEDING
                           AND UNBOUNDED FOLLOWING)
),
per_course AS (
  SELECT e.id, e.indication, max(s.scores) >= 2 AS judged,
         bool_or(s.baseline - s.latest >= e.needed) AS responded,
         min(s.number) FILTER (WHERE s.baseline - s.score >= e.needed) AS first_response
  FROM ended e LEFT JOIN scored s ON s.course_id = e.id GROUP BY e.id, e.indication
)
SELECT indication, count(*) AS ended, count(*) FILTER (WHERE judged) AS judged,
       count(*) FILTER (WHERE judged AND responded) AS responded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response) FILTER (WHERE judged AND responded)
FROM per_course GROUP BY indication ORDER BY indication
"""


@dataclass(frozen=True)
class ResponseRow:
    indication: str
    label: str
    ended: int  # initial courses completed or discontinued in the period
    judged: int  # of those, with two or more scores recorded
    responded: int
    median_sessions_to_response: float | None

    @property
    def response_percent(self) -> float | None:
        return _rate(self.responded, self.judged)


@dataclass
class OutcomesReport:
    period: ReportPeriod
    by_indication: list[dict]  # indication, label, started, completed, discontinued, maintenance_*
    discontinued_reasons: list[dict]  # reason, courses
    responses: list[ResponseRow]
    sessions: int  # recorded sessions in the period
    side_effects: list[dict]  # kind, label, grade, count, per_100_sessions
    summary: dict[str, float | int | None] = field(default_factory=dict)


def report_outcomes(*, period: ReportPeriod) -> OutcomesReport:
    """Courses started, completed and discontinued (with reasons), response at the end by indication with the
    median sessions to response, side effects per 100 sessions, and maintenance uptake (six queries)."""
    in_period = {"local_ended__gte": period.start, "local_ended__lte": period.end}
    earliest, latest = period.instants
    ended = Course.objects.filter(
        location_id__in=period.location_ids, status__in=(CourseStatus.COMPLETED, CourseStatus.DISCONTINUED),
        ended_at__gte=earliest, ended_at__lt=latest,
    ).order_by().annotate(local_ended=LocalDay("ended_at", "location__time_zone")).filter(**in_period).annotate(
        has_maintenance=Exists(Course.objects.filter(follows=OuterRef("pk"))))
    completed_initial = Q(status=CourseStatus.COMPLETED, phase=CoursePhase.INITIAL)
    counts: dict[str, dict] = {indication: {} for indication in Indication.values}
    for values in ended.values("indication").annotate(
            completed=Count("pk", filter=Q(status=CourseStatus.COMPLETED)),
            discontinued=Count("pk", filter=Q(status=CourseStatus.DISCONTINUED)),
            completed_initial=Count("pk", filter=completed_initial),
            maintenance_started=Count("pk", filter=completed_initial & Q(has_maintenance=True))):
        counts[values["indication"]].update(values)
    # Started: a fulfilled session in the period and none before it.
    fulfilled = Appointment.objects.filter(status=AppointmentStatus.FULFILLED).order_by()
    for values in Course.objects.filter(pk__in=_appointments(period).filter(status=AppointmentStatus.FULFILLED)
                                        .values("course_id")).exclude(
            Exists(fulfilled.filter(course=OuterRef("pk"), local_date__lt=period.start))).order_by().values(
            "indication").annotate(started=Count("pk")):
        counts[values["indication"]]["started"] = values["started"]
    by_indication = []
    for indication in Indication:
        values = counts.get(indication.value, {})
        row = {"indication": indication.value, "label": indication.label,
               **{name: values.get(name, 0) for name in ("started", "completed", "discontinued",
                                                         "completed_initial", "maintenance_started")}}
        row["maintenance_percent"] = _rate(row["maintenance_started"], row["completed_initial"])
        by_indication.append(row)
    reasons = list(ended.filter(status=CourseStatus.DISCONTINUED).values(reason=F("discontinued_reason"))
                   .annotate(courses=Count("pk")).order_by("-courses", "reason"))
    labels = dict(Indication.choices)
    responses = [ResponseRow(indication, labels[indication], ended, judged, responded,
                             None if median is None else round(float(median), 1))
                 for indication, ended, judged, responded, median in _run(_RESPONSE_SQL, {
                     "locations": list(period.location_ids), "start": period.start, "end": period.end,
                     "earliest": period.instants[0], "latest": period.instants[1],
                     "hdss_points": HDSS_RESPONSE_POINTS, "pain_points": PAIN_RESPONSE_POINTS})]
    recorded = SessionRecord.objects.filter(
        appointment__in=_appointments(period).filter(status=AppointmentStatus.FULFILLED)).order_by()
    sessions = recorded.count()
    kinds = dict(SideEffect._meta.get_field("kind").choices)
    side_effects = [{"kind": values["kind"], "label": kinds[values["kind"]], "grade": values["grade"],
                     "count": values["count"],
                     "per_100_sessions": round(100 * values["count"] / sessions, 1) if sessions else None}
                    for values in SideEffect.objects.filter(record__in=recorded).values("kind", "grade")
                    .annotate(count=Count("pk")).order_by("kind", "grade")]
    report = OutcomesReport(period=period, by_indication=by_indication, discontinued_reasons=reasons,
                            responses=responses, sessions=sessions, side_effects=side_effects)
    judged = sum(row.judged for row in responses)
    report.summary = {"started": sum(row["started"] for row in by_indication),
                      "completed": sum(row["completed"] for row in by_indication),
                      "response_percent": _rate(sum(row.responded for row in responses), judged)}
    return report


# ---------------------------------------------------------------------------------------------
# 4. Reminders


def failure_reason() -> Case:
    """The kind of a failed message's last error, from the texts of
    ``scheduling.reminders.sending.smtp_failure``: the address refused, an invalid address, the server's SMTP
    code, or the error's name. Never the address itself, which the full text names."""
    return Case(
        When(last_error__startswith="Recipient refused:", then=Value("Recipient refused")),
        When(last_error__startswith="Invalid address:", then=Value("Invalid address")),
        When(last_error__regex=r"^SMTP [0-9]{3}", then=Left("last_error", 8)),
        default=Func(F("last_error"), Value(":"), Value(1), function="split_part", output_field=CharField()),
        output_field=CharField(),
    )


# One aggregate per figure: a figure such as "bounced" is one more entry once bounces are recorded.
REMINDER_FIGURES = {
    "sent": Q(status=NotificationStatus.SENT),
    "failed": Q(status=NotificationStatus.FAILED),
    "cancelled": Q(status=NotificationStatus.CANCELLED),
    "waiting": Q(status__in=(NotificationStatus.PENDING, NotificationStatus.SENDING)),
}


@dataclass
class RemindersReport:
    period: ReportPeriod
    by_kind: list[dict]  # kind, label, sent, failed, cancelled, waiting
    totals: dict[str, int]
    failed_by_reason: list[dict]  # reason, messages
    unsubscribed: int
    summary: dict[str, float | int | None] = field(default_factory=dict)


def report_reminders(*, period: ReportPeriod) -> RemindersReport:
    """Messages due in the period by kind and state, failures by reason, and patients who stopped emails
    (three queries)."""
    rows = Notification.objects.filter(course__location_id__in=period.location_ids).order_by().annotate(
        local_due=LocalDay("due_at", "course__location__time_zone")).filter(
        local_due__gte=period.start, local_due__lte=period.end)
    labels = dict(Notification._meta.get_field("kind").choices)
    found = {values["kind"]: values for values in rows.values("kind").annotate(
        **{name: Count("pk", filter=condition) for name, condition in REMINDER_FIGURES.items()})}
    by_kind = [{"kind": kind, "label": label, **{name: found.get(kind, {}).get(name, 0) for name in REMINDER_FIGURES}}
               for kind, label in labels.items()]
    totals = {name: sum(row[name] for row in by_kind) for name in REMINDER_FIGURES}
    failed = list(rows.filter(REMINDER_FIGURES["failed"]).values(reason=failure_reason())
                  .annotate(messages=Count("pk")).order_by("-messages", "reason"))
    # A patient who stops emails (their unsubscribe link, or the desk) leaves an audit row of the change.
    stopped = AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_type="patient", changes__email_consent=[True, False],
        at__date__gte=period.start, at__date__lte=period.end)
    if period.location is not None:
        stopped = stopped.filter(Exists(Course.objects.filter(patient=OuterRef("patient"),
                                                              location_id__in=period.location_ids)))
    unsubscribed = stopped.aggregate(patients=Count("patient", distinct=True))["patients"]
    report = RemindersReport(period=period, by_kind=by_kind, totals=totals, failed_by_reason=failed,
                             unsubscribed=unsubscribed)
    report.summary = {**totals, "unsubscribed": unsubscribed,
                      "failed_percent": _rate(totals["failed"], totals["sent"] + totals["failed"])}
    return report


def report_patient_ids(*, name: str, report) -> list[int]:
    """The patients an export of this report names: only the attendance report names any."""
    if name != "attendance":
        return []
    return [patient["patient_id"] for patient in report.repeat_noshows]


REPORTS = {
    "utilization": ("Utilization", report_utilization),
    "attendance": ("Attendance", report_attendance),
    "outcomes": ("Courses and outcomes", report_outcomes),
    "reminders": ("Reminders", report_reminders),
}
