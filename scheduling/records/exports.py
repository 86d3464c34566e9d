"""A course's sessions as CSV, one row per appointment, for spreadsheets and audits."""

from __future__ import annotations

import io

from clinic.csv_export import csv_write
from scheduling.records.progress import CourseProgress

CSV_COLUMNS = [
    "session", "date", "start", "status", "clinician", "sites and current (mA)", "highest current (mA)",
    "minutes of current", "waveform", "polarity reversed", "medium", "dose (mA·min)", "cumulative dose (mA·min)",
    "HDSS", "pain (NPRS)", "sweat (mg/min)", "sweat site", "side effects", "note",
]


def course_sessions_csv(*, progress: CourseProgress) -> str:
    """Every appointment of the course in date order; the clinical columns are empty until recorded."""
    out = io.StringIO()
    csv_write(out, header=CSV_COLUMNS, rows=(
        (
            row.number, row.date.isoformat(), f"{row.starts_at:%H:%M}", row.status_label, row.clinician,
            "; ".join(f"{site.label} {site.current_ma}" for site in row.sites), row.current_ma,
            row.minutes_of_current, row.waveform, row.polarity_reversed if row.is_recorded else None, row.medium,
            row.dose_ma_min, row.cumulative_dose_ma_min, row.hdss, row.pain_nprs, row.sweat_mg_min,
            row.sweat_site, "; ".join(f"{effect.label} grade {effect.grade}" for effect in row.side_effects),
            row.note,
        )
        for row in progress.sessions
    ))
    return out.getvalue()
