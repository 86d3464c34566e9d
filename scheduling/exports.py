"""A course's sessions as CSV, one row per appointment, for spreadsheets and audits."""

from __future__ import annotations

import csv
import io

from scheduling.progress import CourseProgress

CSV_COLUMNS = [
    "session", "date", "start", "status", "clinician", "sites and current (mA)", "highest current (mA)",
    "minutes of current", "waveform", "polarity reversed", "medium", "dose (mA·min)", "cumulative dose (mA·min)",
    "HDSS", "pain (NPRS)", "sweat (mg/min)", "sweat site", "side effects", "note",
]
# A spreadsheet would run a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def course_sessions_csv(*, progress: CourseProgress) -> str:
    """Every appointment of the course in date order; the clinical columns are empty until recorded."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in progress.sessions:
        recorded = row.is_recorded
        writer.writerow([_cell(value) for value in (
            row.number, row.date.isoformat(), f"{row.starts_at:%H:%M}", row.status_label, row.clinician,
            "; ".join(f"{site.label} {site.current_ma}" for site in row.sites), row.current_ma,
            row.minutes_of_current, row.waveform, row.polarity_reversed if recorded else None, row.medium,
            row.dose_ma_min, row.cumulative_dose_ma_min, row.hdss, row.pain_nprs, row.sweat_mg_min,
            row.sweat_site, "; ".join(f"{effect.label} grade {effect.grade}" for effect in row.side_effects),
            row.note,
        )])
    return out.getvalue()
