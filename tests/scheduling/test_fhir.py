"""The FHIR R4 export validates with fhir.resources and survives parse, serialize, parse."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle

from scheduling.records.fhir import LOCAL, course_fhir_bundle
from scheduling.records.progress import course_progress
from tests.factories import make_clinic, make_course, next_weekday
from tests.scheduling.progress_courses import BOOKED, CANCEL, NOSHOW, scored, treat

pytestmark = pytest.mark.django_db


def resources(bundle: dict, kind: str) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind]


def references(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def assert_valid_and_round_trips(bundle: dict) -> Bundle:
    parsed = Bundle.model_validate(bundle)
    text = parsed.model_dump_json()
    again = Bundle.model_validate_json(text)
    assert again == parsed
    assert again.model_dump_json() == text
    assert json.loads(text) == json.loads(json.dumps(bundle))  # nothing lost or changed on the way
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert len(full_urls) == len(bundle["entry"])
    assert set(references(bundle["entry"])) <= full_urls  # every reference resolves inside the bundle
    return parsed


@pytest.fixture
def hyperhidrosis_bundle():
    clinic = make_clinic()
    monday = next_weekday(0)
    course = make_course(clinic, planned_sessions=6, body_sites=["palms", "soles"])
    sites = [{"site": "palms", "current_ma": 14}, {"site": "soles", "current_ma": 16.5}]
    treat(clinic, course, [
        (monday, scored(4, sites=sites, sweat=150.5, note="Palms wet within a minute.")),
        (monday + timedelta(days=2), NOSHOW),
        (monday + timedelta(days=4), scored(3, sites=sites, side_effects=[{"kind": "blistering", "grade": 2},
                                                                            {"kind": "tingling", "grade": 1}])),
        (monday + timedelta(days=7), CANCEL),
        (monday + timedelta(days=9), BOOKED),
    ])
    return course, course_fhir_bundle(progress=course_progress(course=course, today=monday + timedelta(days=4)))


def test_bundle_of_a_tap_water_course_validates_and_round_trips(hyperhidrosis_bundle):
    course, bundle = hyperhidrosis_bundle

    assert_valid_and_round_trips(bundle)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    assert bundle["id"] == f"ionto-course-{course.pk}"
    assert Counter(entry["resource"]["resourceType"] for entry in bundle["entry"]) == {
        "Patient": 1, "CarePlan": 1, "Appointment": 5, "Procedure": 2, "Observation": 5,
    }
    assert [a["status"] for a in resources(bundle, "Appointment")] == [
        "fulfilled", "noshow", "fulfilled", "cancelled", "booked"]
    careplan = resources(bundle, "CarePlan")[0]
    assert (careplan["status"], careplan["intent"]) == ("active", "plan")
    assert careplan["description"] == "6 sessions of 30 minutes, 3 a week; sites: palms, soles"
    assert len(careplan["activity"]) == 5
    assert sum("outcomeReference" in activity for activity in careplan["activity"]) == 2


def test_session_is_a_procedure_with_its_side_effects_and_observations(hyperhidrosis_bundle):
    _course, bundle = hyperhidrosis_bundle
    procedures = resources(bundle, "Procedure")
    observations = {o["id"].split("-", 1)[1]: o for o in resources(bundle, "Observation")}

    assert [p["status"] for p in procedures] == ["completed", "completed"]
    assert procedures[0]["code"]["coding"] == [{"system": f"{LOCAL}procedure", "code": "tap-water-iontophoresis",
                                                "display": "Tap-water iontophoresis"}]
    assert [s["coding"][0]["code"] for s in procedures[0]["bodySite"]] == ["palms", "soles"]
    assert procedures[0]["note"] == [{"text": "Palms wet within a minute."}]
    assert "complication" not in procedures[0]
    assert [c["text"] for c in procedures[1]["complication"]] == ["Blistering grade 2", "Tingling grade 1"]
    assert sorted(observations) == sorted(
        [f"{procedures[0]['id'].split('-')[1]}-{key}" for key in ("hdss", "sweat", "settings")]
        + [f"{procedures[1]['id'].split('-')[1]}-{key}" for key in ("hdss", "settings")]
    )
    hdss = [o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == "hdss"]
    assert [(o["valueInteger"], o["code"]["coding"][0]["system"]) for o in hdss] == [
        (4, f"{LOCAL}observation"), (3, f"{LOCAL}observation")]
    assert hdss[0]["category"][0]["coding"][0]["code"] == "survey"
    sweat = [o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == "sweat-rate"][0]
    assert sweat["valueQuantity"] == {"value": 150.5, "unit": "mg/min", "system": "http://unitsofmeasure.org",
                                      "code": "mg/min"}
    settings = [o for o in resources(bundle, "Observation")
                if o["code"]["coding"][0]["code"] == "iontophoresis-settings"][0]
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
            for c in settings["component"]] == [("minutes-of-current", 20, "min"), ("current-palms", 14, "mA"),
                                                 ("current-soles", 16.5, "mA")]


def test_medicated_course_codes_pain_with_loinc_and_gives_the_dose():
    clinic = make_clinic()
    monday = next_weekday(0)
    course = make_course(clinic, medicated=True, planned_sessions=6)
    treat(clinic, course, [(monday, scored(7, current=2)), (monday + timedelta(days=2), scored(5, current=3))])

    bundle = course_fhir_bundle(progress=course_progress(course=course))

    assert_valid_and_round_trips(bundle)
    pain = [o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["system"] == "http://loinc.org"]
    assert [(o["code"]["coding"][0]["code"], o["valueInteger"]) for o in pain] == [("72514-3", 7), ("72514-3", 5)]
    doses = [c["valueQuantity"] for o in resources(bundle, "Observation") for c in o.get("component", [])
             if c["code"]["coding"][0]["code"] == "dose"]
    assert doses == [{"value": 40, "unit": "mA·min", "system": "http://unitsofmeasure.org", "code": "mA.min"},
                     {"value": 60, "unit": "mA·min", "system": "http://unitsofmeasure.org", "code": "mA.min"}]
    assert resources(bundle, "Procedure")[0]["code"]["coding"][0]["code"] == "drug-iontophoresis"
    assert resources(bundle, "CarePlan")[0]["description"] == (
        "6 sessions of 30 minutes, 3 a week; sites: left lateral epicondyle; "
        "medication: dexamethasone sodium phosphate 4 mg/mL")


def test_a_second_export_names_the_same_resources(hyperhidrosis_bundle):
    course, bundle = hyperhidrosis_bundle
    again = course_fhir_bundle(progress=course_progress(course=course))

    assert [entry["fullUrl"] for entry in again["entry"]] == [entry["fullUrl"] for entry in bundle["entry"]]


# Every course of the demo clinic exports a valid bundle: tests/scheduling/test_demo.py (on the demo loaded once).
