"""A course as a FHIR R4 Bundle (type "collection"), for another clinic's record or a registry.

The bundle holds the Patient, the course as a CarePlan, each Appointment, each recorded session as
a Procedure, and Observations: the outcome score (pain with LOINC 72514-3; HDSS, which has no
LOINC or SNOMED CT code, and the sweat rate with Ionto's local code system), and the session's
settings (minutes of current, current per site, dose) as components in UCUM units. Body sites,
side effects and the procedure itself use the local code system too: we name no SNOMED CT code we
cannot vouch for. Each check-in the patient answered is a QuestionnaireResponse (author and source the
patient) with an Observation of its score (performer the patient, derived from the response), so a
reader tells patient-reported scores from clinician-recorded ones. Every resource has a stable id and a
urn:uuid full URL derived from the
database row, so two exports of the same course reference the same things.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from scheduling.checkins.questions import HDSS_QUESTION, PAIN_QUESTION, SKIN_QUESTION
from scheduling.checkins.selectors import ReportedPoint
from scheduling.models import CourseStatus, Indication
from scheduling.records.progress import CourseProgress, SessionRow

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOCAL = "urn:ionto:codesystem:"
PAIN_LOINC = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
_NAMESPACE = uuid.UUID("5b0c8f6e-6f0a-4b8e-9a57-0d1b7f1e2c3a")

CAREPLAN_STATUS = {
    CourseStatus.PLANNED: "active",
    CourseStatus.ACTIVE: "active",
    CourseStatus.COMPLETED: "completed",
    CourseStatus.DISCONTINUED: "revoked",
}
PROCEDURE_CODES = {
    Indication.HYPERHIDROSIS: ("tap-water-iontophoresis", "Tap-water iontophoresis"),
    Indication.MUSCULOSKELETAL: ("drug-iontophoresis", "Medicated (drug) iontophoresis"),
}


def _full_url(kind: str, pk) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{pk}')}"


def _ref(kind: str, pk, display: str = "") -> dict:
    ref = {"reference": _full_url(kind, pk)}
    if display:
        ref["display"] = display
    return ref


def _concept(system: str, code: str, display: str, text: str = "") -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": text or display}


def _instant(moment: datetime) -> str:
    """With the location's offset, as the clinic saw it; UTC written as Z, as FHIR tools write it."""
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _number(value: Decimal) -> float | int:
    """JSON numbers, never strings: FHIR's decimal is a JSON number."""
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(value: Decimal, unit: str, code: str) -> dict:
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": code}


def course_fhir_bundle(*, progress: CourseProgress) -> dict:
    """The course of ``progress`` as a FHIR R4 Bundle, a plain dict ready for JSON."""
    course = progress.course
    patient = course.patient
    patient_ref = _ref("Patient", patient.pk, str(patient))
    careplan_ref = _ref("CarePlan", course.pk)
    entries = [_patient(patient), _careplan(progress, patient_ref)]
    for row in progress.sessions:
        entries.append(_appointment(progress, row, patient_ref))
    for row in progress.recorded_sessions:
        entries.append(_procedure(progress, row, patient_ref, careplan_ref))
        entries.extend(_observations(progress, row, patient_ref))
    for point in progress.reported:
        entries.extend(_reported(progress, point, patient_ref, careplan_ref))
    return {
        "resourceType": "Bundle",
        "id": f"ionto-course-{course.pk}",
        "type": "collection",
        "timestamp": _instant(timezone.now()),
        "entry": [{"fullUrl": _full_url(kind, pk), "resource": resource} for kind, pk, resource in entries],
    }


def _patient(patient) -> tuple[str, int, dict]:
    resource = {
        "resourceType": "Patient",
        "id": f"patient-{patient.pk}",
        "identifier": [{"system": f"{LOCAL}patient", "value": str(patient.pk)}],
        "name": [{"family": patient.last_name, "given": [patient.first_name]}],
        "birthDate": patient.date_of_birth.isoformat(),
    }
    telecom = [{"system": "email", "value": patient.email}] if patient.email else []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if telecom:
        resource["telecom"] = telecom
    return "Patient", patient.pk, resource


def _careplan(progress: CourseProgress, patient_ref: dict) -> tuple[str, int, dict]:
    course = progress.course
    description = (f"{course.planned_sessions} sessions of {course.session_minutes} minutes"
                   + (f", {course.sessions_per_week} a week" if course.phase == "initial"
                      else f", every {course.maintenance_interval_weeks} weeks")
                   + f"; sites: {', '.join(_site_names(course))}"
                   + (f"; medication: {course.medication}" if course.medication else ""))
    resource = {
        "resourceType": "CarePlan",
        "id": f"careplan-{course.pk}",
        "status": CAREPLAN_STATUS[course.status],
        "intent": "plan",
        "category": [_concept(f"{LOCAL}indication", course.indication, course.get_indication_display())],
        "title": f"{course.get_indication_display()}: {course.get_phase_display().lower()}",
        "description": description,
        "subject": patient_ref,
        "created": _instant(course.created_at),
        "activity": [
            {"reference": _ref("Appointment", row.appointment_id),
             **({"outcomeReference": [_ref("Procedure", row.appointment_id)]} if row.is_recorded else {})}
            for row in progress.sessions
        ],
    }
    if progress.sessions:
        period = {"start": _instant(progress.sessions[0].starts_at)}
        if course.ended_at:
            period["end"] = _instant(course.ended_at)
        resource["period"] = period
    if course.discontinued_reason:
        resource["note"] = [{"text": f"Discontinued: {course.discontinued_reason}"}]
    return "CarePlan", course.pk, resource


def _site_names(course) -> list[str]:
    return [course.body_site_other if site == "other" and course.body_site_other else site
            for site in course.body_sites]


def _appointment(progress: CourseProgress, row: SessionRow, patient_ref: dict) -> tuple[str, int, dict]:
    course = progress.course
    minutes = course.session_minutes
    resource = {
        "resourceType": "Appointment",
        "id": f"appointment-{row.appointment_id}",
        "status": row.status,
        "description": f"{course.get_indication_display()} session",
        "start": _instant(row.starts_at),
        "end": _instant(row.starts_at + _minutes(minutes)),
        "minutesDuration": minutes,
        "participant": [
            {"actor": patient_ref, "status": "accepted"},
            {"actor": {"display": row.clinician}, "status": "accepted"},
        ],
    }
    return "Appointment", row.appointment_id, resource


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def _procedure(progress: CourseProgress, row: SessionRow, patient_ref: dict,
               careplan_ref: dict) -> tuple[str, int, dict]:
    course = progress.course
    code, display = PROCEDURE_CODES[course.indication]
    resource = {
        "resourceType": "Procedure",
        "id": f"procedure-{row.appointment_id}",
        "basedOn": [careplan_ref],
        "status": "completed",
        "code": _concept(f"{LOCAL}procedure", code, display),
        "subject": patient_ref,
        "performedPeriod": {"start": _instant(row.starts_at),
                            "end": _instant(row.starts_at + _minutes(row.minutes_of_current))},
        "performer": [{"actor": {"display": row.clinician}}],
        "bodySite": [_concept(f"{LOCAL}body-site", site.site, site.label) for site in row.sites],
    }
    if row.side_effects:
        resource["complication"] = [
            _concept(f"{LOCAL}side-effect", effect.kind, effect.label, f"{effect.label} grade {effect.grade}")
            for effect in row.side_effects
        ]
    if row.note:
        resource["note"] = [{"text": row.note}]
    return "Procedure", row.appointment_id, resource


def _observations(progress: CourseProgress, row: SessionRow, patient_ref: dict) -> list[tuple[str, str, dict]]:
    procedure_ref = _ref("Procedure", row.appointment_id)
    effective = _instant(row.starts_at)

    def observation(key: str, category: str, code: dict, **value) -> tuple[str, str, dict]:
        pk = f"{row.appointment_id}-{key}"
        return "Observation", pk, {
            "resourceType": "Observation",
            "id": f"observation-{pk}",
            "status": "final",
            "category": [_concept(OBSERVATION_CATEGORY, category, category.capitalize())],
            "code": code,
            "subject": patient_ref,
            "partOf": [procedure_ref],
            "effectiveDateTime": effective,
            **value,
        }

    found = []
    if row.hdss is not None:
        found.append(observation("hdss", "survey",
                                 _concept(f"{LOCAL}observation", "hdss", "Hyperhidrosis Disease Severity Scale"),
                                 valueInteger=row.hdss))
    if row.pain_nprs is not None:
        found.append(observation("pain", "survey", _concept(LOINC, *PAIN_LOINC), valueInteger=row.pain_nprs))
    if row.sweat_mg_min is not None:
        found.append(observation(
            "sweat", "exam", _concept(f"{LOCAL}observation", "sweat-rate", "Gravimetric sweat rate"),
            valueQuantity=_quantity(row.sweat_mg_min, "mg/min", "mg/min"),
            bodySite={"text": row.sweat_site},
        ))
    components = [{"code": _concept(f"{LOCAL}observation", "minutes-of-current", "Minutes of current"),
                   "valueQuantity": _quantity(Decimal(row.minutes_of_current), "min", "min")}]
    components.extend(
        {"code": _concept(f"{LOCAL}observation", f"current-{site.site}", f"Current at {site.label}"),
         "valueQuantity": _quantity(site.current_ma, "mA", "mA")}
        for site in row.sites
    )
    if row.dose_ma_min is not None:
        components.append({"code": _concept(f"{LOCAL}observation", "dose", "Dose delivered"),
                           "valueQuantity": _quantity(row.dose_ma_min, "mA·min", "mA.min")})
    found.append(observation(
        "settings", "procedure", _concept(f"{LOCAL}observation", "iontophoresis-settings",
                                          "Iontophoresis session settings"),
        component=components,
    ))
    return found


def _reported(progress: CourseProgress, point: ReportedPoint, patient_ref: dict,
              careplan_ref: dict) -> list[tuple[str, str, dict]]:
    """A check-in answer: the QuestionnaireResponse as the patient gave it and an Observation of its score."""
    hyperhidrosis = progress.outcome.measure == "hdss"
    key = f"check-in-{point.check_in_id}"
    answered = _instant(point.answered_at)
    items = [{"linkId": "score", "text": HDSS_QUESTION if hyperhidrosis else PAIN_QUESTION,
              "answer": [{"valueInteger": _number(point.value)}]}]
    if point.skin_reaction:
        items.append({"linkId": "skin-reaction", "text": SKIN_QUESTION, "answer": [{"valueCoding": {
            "system": f"{LOCAL}skin-reaction", "code": point.skin_reaction, "display": point.skin_reaction_label}}]})
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": f"questionnaire-response-{point.check_in_id}",
        "identifier": {"system": f"{LOCAL}check-in", "value": str(point.check_in_id)},
        "questionnaire": f"{LOCAL}questionnaire:{'hdss' if hyperhidrosis else 'nprs'}",
        "basedOn": [careplan_ref],
        "status": "completed",
        "subject": patient_ref,
        "authored": answered,
        "author": patient_ref,
        "source": patient_ref,
        "item": items,
    }
    code = (_concept(f"{LOCAL}observation", "hdss", "Hyperhidrosis Disease Severity Scale") if hyperhidrosis
            else _concept(LOINC, *PAIN_LOINC))
    observation = {
        "resourceType": "Observation",
        "id": f"observation-{key}",
        "status": "final",
        "category": [_concept(OBSERVATION_CATEGORY, "survey", "Survey")],
        "code": code,
        "subject": patient_ref,
        "effectiveDateTime": answered,
        "performer": [patient_ref],
        "valueInteger": _number(point.value),
        "derivedFrom": [_ref("QuestionnaireResponse", point.check_in_id)],
        "note": [{"text": f"Reported by the patient at a check-in ({point.purpose_label.lower()})."}],
    }
    return [("QuestionnaireResponse", point.check_in_id, response), ("Observation", key, observation)]
