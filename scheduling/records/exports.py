"""A course's sessions as CSV, one row per appointment and per answered check-in, for spreadsheets and audits."""

from __future__ import annotations

import io

from clinic.csv_export import csv_write
from scheduling.records.progress import CourseProgress

CSV_COLUMNS = [
    "session", "date", "start", "status", "clinician", "sites and current (mA)", "highest current (mA)",
    "minutes of current", "waveform", "polarity reversed", "medium", "dose (mA·min)", "cumulative dose (mA·min)",
    "HDSS", "pain (NPRS)", "sweat (mg/min)", "sweat site", "side effects", "note", "reported by",
]


def course_sessions_csv(*, progress: CourseProgress) -> str:
    """Every appointment of the course, and every check-in the patient answered, in date and time order;
    the clinical columns of a session are empty until it is recorded. "reported by" tells the clinic's
    figures from the patient's own answers."""
    hyperhidrosis = progress.outcome.measure == "hdss"
    sessions = [
        ((row.starts_at.date(), f"{row.starts_at:%H:%M}"), (
            row.number, row.date.isoformat(), f"{row.starts_at:%H:%M}", row.status_label, row.clinician,
            "; ".join(f"{site.label} {site.current_ma}" for site in row.sites), row.current_ma,
            row.minutes_of_current, row.waveform, row.polarity_reversed if row.is_recorded else None, row.medium,
            row.dose_ma_min, row.cumulative_dose_ma_min, row.hdss, row.pain_nprs, row.sweat_mg_min,
            row.sweat_site, "; ".join(f"{effect.label} grade {effect.grade}" for effect in row.side_effects),
            row.note, "clinic",
        ))
        for row in progress.sessions
    ]
    answers = [
        ((point.date, f"{point.answered_at:%H:%M}"), (
            None, point.date.isoformat(), f"{point.answered_at:%H:%M}", f"Check-in: {point.purpose_label.lower()}",
            None, None, None, None, None, None, None, None, None,
            point.value if hyperhidrosis else None, None if hyperhidrosis else point.value, None, None,
            f"Skin reaction: {point.skin_reaction_label.lower()}" if point.skin_reaction else "", None, "patient",
        ))
        for point in progress.reported
    ]
    out = io.StringIO()
    csv_write(out, header=CSV_COLUMNS, rows=(row for _, row in sorted(sessions + answers, key=lambda item: item[0])))
    return out.getvalue()
