"""Writes of session records: what was done in a session, checked against the clinic's limits."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import ConflictError
from patients.models import AuditAction
from patients.services import audit_record
from scheduling.booking.selectors import appointments_visible_to
from scheduling.booking.services import (
    locked_appointment,
    locked_course,
    require_clinical,
    save_validated,
    set_status,
)
from scheduling.models import (
    HDSS_MAX,
    HDSS_MIN,
    MEDICATED_DOSE_MAX_MA_MIN,
    PAIN_NPRS_MAX,
    Appointment,
    AppointmentStatus,
    BodySite,
    Course,
    CourseStatus,
    Medium,
    SessionRecord,
    SessionSite,
    SideEffect,
    SideEffectKind,
)
from scheduling.reminders.outbox import notifications_on_fulfilled

MEDICATED_CURRENT_MAX_MA = Decimal(4)  # medicated iontophoresis runs at 1-4 mA (DESIGN.md)
CHILD_AGE_LIMIT = 18

# ---------------------------------------------------------------------------------------------
# Session records


@transaction.atomic
def session_record_create(
    *, appointment: Appointment, recorded_by, minutes_of_current: int, sites: list[dict],
    waveform: str = "dc", polarity_reversed: bool = False, medium: str | None = None,
    hdss: int | None = None, pain_nprs: int | None = None, sweat_mg_min: Decimal | None = None,
    sweat_site: str = "", side_effects: list[dict] | None = None, dose_ma_min: Decimal | None = None,
    note: str = "", expected_version: int | None = None,
) -> SessionRecord:
    """Record what was done in a session; the appointment becomes fulfilled and its course active.

    ``sites``: ``[{"site": "palms", "current_ma": 12, "site_other": ""}, ...]``;
    ``side_effects``: ``[{"kind": "erythema", "grade": 1, "kind_other": ""}, ...]``.
    """
    require_clinical(recorded_by, "Only a clinician can record a session.")
    if not appointments_visible_to(user=recorded_by).filter(pk=appointment.pk).exists():
        raise PermissionError("You can record sessions only at your own locations.")
    course = locked_course(appointment.course_id)
    appointment = locked_appointment(appointment, expected_version)
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
        raise ValidationError(f"This session is {appointment.get_status_display().lower()}; "
                              "only a booked or arrived session can be recorded.")
    if appointment.starts_at > timezone.now():
        raise ValidationError("This session has not started yet.")
    if SessionRecord.objects.filter(appointment=appointment).exists():
        raise ConflictError("This session is already recorded.")
    medium = medium or (Medium.DRUG if course.is_medicated else Medium.TAP)
    errors: dict[str, str] = {}
    if minutes_of_current > appointment.minutes:
        errors["minutes_of_current"] = (f"{minutes_of_current} minutes of current do not fit a "
                                        f"{appointment.minutes}-minute session.")
    site_rows = [SessionSite(site=row["site"], site_other=row.get("site_other", ""),
                             current_ma=Decimal(str(row["current_ma"]))) for row in sites]
    if not site_rows:
        errors["sites"] = "Record the current of at least one site."
    elif len({row.site for row in site_rows}) != len(site_rows):
        errors["sites"] = "Each site is recorded once."
    elif any(row.site not in course.body_sites for row in site_rows):
        errors["sites"] = "Record only the course's sites: " + ", ".join(
            BodySite(site).label for site in course.body_sites) + "."
    else:
        errors.update(_current_errors(course, appointment, site_rows))
    if course.is_medicated:
        if medium != Medium.DRUG:
            errors["medium"] = "A medicated course runs on the drug solution."
        computed = sum(row.current_ma for row in site_rows) * minutes_of_current
        dose_ma_min = Decimal(dose_ma_min) if dose_ma_min is not None else computed
        if dose_ma_min > MEDICATED_DOSE_MAX_MA_MIN:
            errors["dose_ma_min"] = (f"A dose of {dose_ma_min} mA·min is above the limit of "
                                     f"{MEDICATED_DOSE_MAX_MA_MIN} mA·min.")
        if pain_nprs is None:
            errors["pain_nprs"] = f"Record the pain score (0-{PAIN_NPRS_MAX})."
        if hdss is not None:
            errors["hdss"] = "HDSS is for hyperhidrosis courses."
    else:
        if medium == Medium.DRUG:
            errors["medium"] = "A tap-water course does not use a drug solution."
        if dose_ma_min is not None:
            errors["dose_ma_min"] = "A dose is recorded for medicated sessions only."
        if hdss is None:
            errors["hdss"] = f"Record the HDSS score ({HDSS_MIN}-{HDSS_MAX})."
        if pain_nprs is not None:
            errors["pain_nprs"] = "Pain scores are for musculoskeletal courses."
    if sweat_mg_min is not None and not sweat_site:
        errors["sweat_site"] = "Say where the sweat rate was measured."
    effect_error = _side_effect_error(side_effects or [])
    if effect_error:
        errors["side_effects"] = effect_error
    if errors:
        raise ValidationError(errors)
    audit_record(actor=recorded_by, action=AuditAction.CREATE, patient=course.patient, obj=appointment,
                 changes={"session_record": (None, "recorded")})
    record = save_validated(SessionRecord(
        appointment=appointment, minutes_of_current=minutes_of_current, waveform=waveform,
        polarity_reversed=polarity_reversed, medium=medium, dose_ma_min=dose_ma_min, hdss=hdss, pain_nprs=pain_nprs,
        sweat_mg_min=sweat_mg_min, sweat_site=sweat_site, note=note, recorded_by=recorded_by,
    ))
    for row in site_rows:
        row.record = record
        save_validated(row)
    for effect in side_effects or []:
        save_validated(SideEffect(record=record, kind=effect["kind"], kind_other=effect.get("kind_other", ""),
                                  grade=effect["grade"]))
    set_status(appointment, AppointmentStatus.FULFILLED, recorded_by)
    save_validated(appointment)
    if course.started_on is None or appointment.local_date < course.started_on:
        # The course's first fulfilled session (it becomes active), or an earlier one recorded late.
        course.started_on = appointment.local_date
        if course.status == CourseStatus.PLANNED:
            course.status = CourseStatus.ACTIVE
        save_validated(course)
    notifications_on_fulfilled(appointment=appointment, course=course)
    return record


def _side_effect_error(side_effects: list[dict]) -> str | None:
    """Each side effect has its kind and its grade; a grade alone says nothing and is refused, not dropped."""
    kinds = []
    for effect in side_effects:
        kind, grade, what = effect.get("kind") or "", effect.get("grade"), (effect.get("kind_other") or "").strip()
        if kind not in SideEffectKind.values or (kind == SideEffectKind.OTHER and not what):
            return "Say what each graded side effect was."
        if grade is None:
            return f"Give the grade (1-3) of the {SideEffectKind(kind).label.lower()}."
        if kind != SideEffectKind.OTHER:
            kinds.append(kind)
    if len(set(kinds)) != len(kinds):
        return "Record each side effect once, with its highest grade."
    return None


def _current_errors(course: Course, appointment: Appointment, site_rows: list[SessionSite]) -> dict[str, str]:
    location = appointment.location
    if course.is_medicated:
        limit, who = MEDICATED_CURRENT_MAX_MA, "a medicated session"
    elif course.patient.age_on(appointment.local_date) < CHILD_AGE_LIMIT:
        limit, who = location.max_current_ma_child, "a patient under 18 on tap water"
    else:
        limit, who = location.max_current_ma_adult, "an adult on tap water"
    too_high = [row for row in site_rows if row.current_ma > limit]
    if too_high:
        names = ", ".join(f"{BodySite(row.site).label} {row.current_ma} mA" for row in too_high)
        return {"sites": f"{names}: the limit for {who} at {location} is {limit} mA."}
    return {}
