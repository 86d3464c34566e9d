"""Report 2, attendance: no-shows, late cancellations and confirmations (docs/reports.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncWeek

from scheduling.booking.selectors import appointment_late_window_opens_at_expression
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    CancelledBy,
    ConfirmationChannel,
)
from scheduling.reports.period import (
    ReportPeriod,
    appointments_in,
    days_not_in,
    local_days_q,
    percent,
    sql_rows,
)


def late_cancellation_q() -> Q:
    """Cancelled by the patient once the location's late-change window had opened (the rule of
    ``appointment_late_window_opens_at``); the queryset needs the ``late_window_opens_at`` annotation."""
    return Q(status=AppointmentStatus.CANCELLED, cancelled_by=CancelledBy.PATIENT,
             status_changed_at__gt=F("late_window_opens_at"))


ATTENDANCE_FIGURES = ("sessions", "attended", "noshows", "cancelled", "late_cancellations")

# The kept weeks of the period (``usage_weeks_count``) with their counts, read together so a week comes
# whole from one snapshot.
_KEPT_SQL = """
SELECT u.location_id, u.week, c.clinician_id, c.confirmed, c.sessions, c.attended, c.noshows, c.cancelled,
       c.late_cancellations, c.by_link
FROM scheduling_usageweek u
LEFT JOIN scheduling_attendancecount c ON c.location_id = u.location_id AND c.week = u.week
WHERE u.location_id = ANY(%(locations)s) AND u.week >= %(start)s AND u.week + 6 <= %(end)s
"""
# The names of the locations and clinicians counted.
_NAMES_SQL = """
SELECT 'location', id, name, name FROM clinic_location WHERE id = ANY(%(locations)s)
UNION ALL
SELECT 'clinician', s.id, trim(u.first_name || ' ' || u.last_name), u.last_name
FROM clinic_staff s JOIN auth_user u ON u.id = s.user_id WHERE s.id = ANY(%(clinicians)s)
"""


def attendance_counts(rows: QuerySet) -> QuerySet:
    """The sessions of ``rows`` (entered in error left out) counted per location, week, clinician and whether
    the patient confirmed before the start: ATTENDANCE_FIGURES and ``by_link`` (confirmed by the email's
    link). The report counts the weeks not kept this way, and ``usage_weeks_count`` keeps each week's
    (``AttendanceCount``)."""
    confirmed_first = Q(confirmed_at__isnull=False, confirmed_at__lt=F("starts_at"))
    flags = {
        "attended": Q(status__in=(AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED)),
        "noshows": Q(status=AppointmentStatus.NOSHOW),
        "cancelled": Q(status=AppointmentStatus.CANCELLED),
        "late_cancellations": late_cancellation_q(),
        "by_link": confirmed_first & Q(confirmed_via=ConfirmationChannel.EMAIL_LINK),
    }
    return (rows.exclude(status=AppointmentStatus.ENTERED_IN_ERROR)
            .annotate(late_window_opens_at=appointment_late_window_opens_at_expression())
            .values("location_id", "clinician_id", week=TruncWeek("local_date"),
                    confirmed=ExpressionWrapper(confirmed_first, output_field=BooleanField()))
            .annotate(sessions=Count("pk"), **{name: Count("pk", filter=flag) for name, flag in flags.items()})
            .order_by())


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
        return percent(self.noshows, self.sessions)

    @property
    def late_cancellation_percent(self) -> float | None:
        return percent(self.late_cancellations, self.sessions)


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
    confirmations before the session and the no-show rate with and without one (four queries: the kept
    weeks' counts, the other days' sessions counted (none when every week is kept), the names, the repeated
    no-shows)."""
    kept = sql_rows(_KEPT_SQL, {"locations": list(period.location_ids), "start": period.start, "end": period.end})
    counted = [{"location_id": location_id, "week": week, "clinician_id": clinician_id, "confirmed": confirmed,
                "by_link": by_link, **dict(zip(ATTENDANCE_FIGURES, counts, strict=True))}
               for location_id, week, clinician_id, confirmed, *counts, by_link in kept if clinician_id is not None]
    # The other days of the period (weeks not ended, forgotten, or only partly inside it): from the sessions.
    live = local_days_q(days_not_in(period, {(location_id, week) for location_id, week, *_ in kept}))
    if live is not None:
        counted += attendance_counts(Appointment.objects.filter(live))
    names = {(kind, key): (name, sort_name) for kind, key, name, sort_name in sql_rows(_NAMES_SQL, {
        "locations": list(period.location_ids), "clinicians": list({values["clinician_id"] for values in counted})})}
    weeks: dict[date, dict] = {}
    locations: dict[int, dict] = {}
    clinicians: dict[int, dict] = {}
    confirmations: dict[bool, dict] = {}
    for values in counted:
        _add(weeks.setdefault(values["week"], {}), values)
        _add(locations.setdefault(values["location_id"], {}), values)
        _add(clinicians.setdefault(values["clinician_id"], {}), values)
        confirmation = confirmations.setdefault(values["confirmed"], {"by_link": 0})
        _add(confirmation, values)
        confirmation["by_link"] += values["by_link"]
    by_clinician = [_row(key, names["clinician", key][0], clinicians[key])
                    for key in sorted(clinicians, key=lambda key: (names["clinician", key][1], key))]
    total = {}
    for values in locations.values():
        _add(total, values)
    empty = dict.fromkeys(ATTENDANCE_FIGURES, 0)
    repeat = [{"patient_id": values["patient_id"], "name": f"{values['patient__first_name']} "
                                                             f"{values['patient__last_name']}",
               "noshows": values["noshows"]}
              for values in appointments_in(period).filter(status=AppointmentStatus.NOSHOW)
              .values("patient_id", "patient__first_name", "patient__last_name")
              .annotate(noshows=Count("pk")).filter(noshows__gte=2)
              .order_by("-noshows", "patient__last_name", "patient_id")]
    report = AttendanceReport(
        period=period, total=_row("all", "All", total or empty),
        weekly=[_row(week, f"{week:%d %b %Y}", values) for week, values in sorted(weeks.items())],
        by_clinician=by_clinician,
        by_location=[_row(key, names["location", key][0], locations[key])
                     for key in sorted(locations, key=lambda key: (names["location", key][0], key))],
        repeat_noshows=repeat, confirmed_by_link=confirmations.get(True, {}).get("by_link", 0),
        confirmed=_row("confirmed", "Confirmed before the session", confirmations.get(True, empty)),
        unconfirmed=_row("unconfirmed", "Not confirmed", confirmations.get(False, empty)),
    )
    report.summary = {"sessions": report.total.sessions, "noshow_percent": report.total.noshow_percent,
                      "late_cancellation_percent": report.total.late_cancellation_percent}
    return report
