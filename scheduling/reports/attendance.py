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
)
from django.db.models.functions import TruncWeek

from scheduling.booking.selectors import appointment_late_window_opens_at_expression
from scheduling.models import (
    AppointmentStatus,
    CancelledBy,
    ConfirmationChannel,
)
from scheduling.reports.period import ReportPeriod, appointments_in, percent, sql_rows


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
    confirmations before the session and the no-show rate with and without one (two queries)."""
    rows = appointments_in(period).exclude(status=AppointmentStatus.ENTERED_IN_ERROR).annotate(
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
         clinician_name) in sql_rows(_ATTENDANCE_SQL.format(rows=sql), params):
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
