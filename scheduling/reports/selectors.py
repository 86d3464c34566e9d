"""Every figure of the managers' reports, each computed once, in the database, in a fixed number of queries.

One module per report (``utilization``, ``attendance``, ``outcomes``, ``reminders``), the period and the
access rule in ``period``; this module names them for the pages, the API, the exports and the bench.
docs/reports.md says how each figure is computed.
"""

from __future__ import annotations

from scheduling.reports.attendance import AttendanceReport, AttendanceRow, late_cancellation_q, report_attendance
from scheduling.reports.outcomes import OutcomesReport, ResponseRow, report_outcomes
from scheduling.reports.period import (
    REPORTS_FORBIDDEN,
    ReportPeriod,
    report_access_allowed,
    report_access_check,
    report_period,
)
from scheduling.reports.reminders import REMINDER_FIGURES, RemindersReport, failure_reason, report_reminders
from scheduling.reports.utilization import UsageRow, UtilizationReport, report_utilization

__all__ = [
    "REMINDER_FIGURES", "REPORTS", "REPORTS_FORBIDDEN", "AttendanceReport", "AttendanceRow", "OutcomesReport",
    "RemindersReport", "ReportPeriod", "ResponseRow", "UsageRow", "UtilizationReport", "failure_reason",
    "late_cancellation_q", "report_access_allowed", "report_access_check", "report_attendance", "report_outcomes",
    "report_patient_ids", "report_period", "report_reminders", "report_utilization",
]


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
