"""Each report as CSV: one figure a line (table, row, week, figure, value), for spreadsheets' pivot tables.

Written through ``clinic.csv_export`` like every export; the view records each download in the audit
trail (``patients.services.audit_report_export``) with the patients the export names.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from clinic.csv_export import csv_write
from scheduling.reports.charts import WEEKDAYS
from scheduling.reports.selectors import (
    AttendanceReport,
    AttendanceRow,
    OutcomesReport,
    RemindersReport,
    ReportPeriod,
    UtilizationReport,
)

CSV_COLUMNS = ["table", "row", "week", "figure", "value"]
Line = tuple[str, str, str, str, object]


def _period(period: ReportPeriod) -> Iterator[Line]:
    yield "period", "first day", "", "date", period.start.isoformat()
    yield "period", "last day", "", "date", period.end.isoformat()
    yield "period", "location", "", "name", period.location.name if period.location else "every location"


def _utilization(report: UtilizationReport) -> Iterator[Line]:
    for row in [*report.totals, *report.weekly]:
        table = "utilization by week" if row.week else "utilization"
        week = row.week.isoformat() if row.week else ""
        name = f"{row.kind}: {row.label}" if row.resource_id is not None else f"{row.kind}s at {row.label}"
        yield table, name, week, "open minutes", row.open_minutes
        yield table, name, week, "booked minutes", row.booked_minutes
        yield table, name, week, "fulfilled minutes", row.fulfilled_minutes
        yield table, name, week, "booked %", row.booked_percent
        yield table, name, week, "fulfilled %", row.fulfilled_percent
    for (weekday, hour), sessions in sorted(report.heat.items()):
        yield "sessions by weekday and hour", WEEKDAYS[weekday - 1], "", f"{hour:02d}:00", sessions


def _attendance_lines(table: str, row: AttendanceRow, week: str = "") -> Iterator[Line]:
    for figure in ("sessions", "attended", "noshows", "cancelled", "late_cancellations", "noshow_percent",
                   "late_cancellation_percent"):
        yield table, row.label, week, figure.replace("_percent", " %").replace("_", " "), getattr(row, figure)


def _attendance(report: AttendanceReport) -> Iterator[Line]:
    yield from _attendance_lines("attendance", report.total)
    for row in report.weekly:
        yield from _attendance_lines("attendance by week", row, row.key)
    for row in report.by_clinician:
        yield from _attendance_lines("attendance by clinician", row)
    for row in report.by_location:
        yield from _attendance_lines("attendance by location", row)
    yield "confirmations", "confirmed by the email's link before the session", "", "sessions", report.confirmed_by_link
    yield from _attendance_lines("confirmations", report.confirmed)
    yield from _attendance_lines("confirmations", report.unconfirmed)
    for patient in report.repeat_noshows:
        yield "patients with two or more no-shows", f"{patient['name']} (patient {patient['patient_id']})", "", \
            "no-shows", patient["noshows"]


def _outcomes(report: OutcomesReport) -> Iterator[Line]:
    for row in report.by_indication:
        for figure in ("started", "completed", "discontinued", "completed_initial", "maintenance_started",
                       "maintenance_percent"):
            yield "courses", row["label"], "", figure.replace("_percent", " %").replace("_", " "), row[figure]
    for row in report.discontinued_reasons:
        yield "discontinued, by reason", row["reason"], "", "courses", row["courses"]
    for row in report.responses:
        yield "response at the course's end", row.label, "", "courses ended", row.ended
        yield "response at the course's end", row.label, "", "courses with two or more scores", row.judged
        yield "response at the course's end", row.label, "", "responded", row.responded
        yield "response at the course's end", row.label, "", "response %", row.response_percent
        yield "response at the course's end", row.label, "", "median sessions to response", \
            row.median_sessions_to_response
    yield "side effects", "sessions recorded", "", "sessions", report.sessions
    for row in report.side_effects:
        name = f"{row['label']} grade {row['grade']}"
        yield "side effects", name, "", "count", row["count"]
        yield "side effects", name, "", "per 100 sessions", row["per_100_sessions"]


def _reminders(report: RemindersReport) -> Iterator[Line]:
    for row in report.by_kind:
        for figure, value in row.items():
            if figure not in ("kind", "label"):
                yield "messages by kind", row["label"], "", figure, value
    for row in report.failed_by_reason:
        yield "failed, by reason", row["reason"], "", "messages", row["messages"]
    yield "email consent", "patients who stopped emails", "", "patients", report.unsubscribed
    for figure, value in report.waitlist_offers.items():
        yield "waitlist offers", figure, "", "offers", value


_LINES = {"utilization": _utilization, "attendance": _attendance, "outcomes": _outcomes, "reminders": _reminders}


def report_csv(*, name: str, report) -> str:
    out = io.StringIO()
    lines: Iterable[Line] = [*_period(report.period), *_LINES[name](report)]
    csv_write(out, header=CSV_COLUMNS, rows=lines)
    return out.getvalue()

