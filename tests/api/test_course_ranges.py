"""The API's ranges for planning courses are the model's own (scheduling.models), with messages naming them."""

from __future__ import annotations

import pytest

from scheduling.models import (
    INITIAL_SESSIONS_MAX,
    INITIAL_SESSIONS_MIN,
    MAINTENANCE_INTERVAL_WEEKS_MAX,
    MAINTENANCE_INTERVAL_WEEKS_MIN,
    MAINTENANCE_SESSIONS_MAX,
    MAINTENANCE_SESSIONS_MIN,
    SESSIONS_PER_WEEK_MAX,
    SESSIONS_PER_WEEK_MIN,
    Course,
)
from tests.factories import make_course, make_patient

pytestmark = pytest.mark.django_db


def below(bound: int) -> str:
    return f"Ensure this value is greater than or equal to {bound}."


def above(bound: int) -> str:
    return f"Ensure this value is less than or equal to {bound}."


def test_a_course_is_planned_within_the_models_session_ranges_and_refused_outside(world, as_role):
    patient = make_patient(world.own)
    plan = {"patient": patient.pk, "location": world.own.location.pk, "indication": "hyperhidrosis",
            "body_sites": ["palms"]}
    refusals = [
        ({"planned_sessions": INITIAL_SESSIONS_MIN - 1}, {"planned_sessions": [below(INITIAL_SESSIONS_MIN)]}),
        ({"planned_sessions": INITIAL_SESSIONS_MAX + 1}, {"planned_sessions": [above(INITIAL_SESSIONS_MAX)]}),
        ({"planned_sessions": INITIAL_SESSIONS_MIN, "sessions_per_week": SESSIONS_PER_WEEK_MIN - 1},
         {"sessions_per_week": [below(SESSIONS_PER_WEEK_MIN)]}),
        ({"planned_sessions": INITIAL_SESSIONS_MIN, "sessions_per_week": SESSIONS_PER_WEEK_MAX + 1},
         {"sessions_per_week": [above(SESSIONS_PER_WEEK_MAX)]}),
    ]
    client = as_role("clinician")
    for values, errors in refusals:
        response = client.post("/api/v1/courses/", {**plan, **values}, format="json")
        assert (response.status_code, response.json()["errors"]) == (400, errors)
    bounds = [(INITIAL_SESSIONS_MIN, SESSIONS_PER_WEEK_MIN), (INITIAL_SESSIONS_MAX, SESSIONS_PER_WEEK_MAX)]
    for (planned, per_week), site in zip(bounds, ["palms", "soles"], strict=True):  # one open course a site
        response = client.post("/api/v1/courses/", {**plan, "body_sites": [site], "planned_sessions": planned,
                                                    "sessions_per_week": per_week}, format="json")
        assert response.status_code == 201
    assert sorted(Course.objects.filter(patient=patient).values_list("planned_sessions", "sessions_per_week")) == bounds


def test_maintenance_outside_the_models_interval_and_session_ranges_is_refused(world, as_role):
    course = make_course(world.own)
    url = f"/api/v1/courses/{course.pk}/start-maintenance/"
    refusals = [
        ("interval_weeks", MAINTENANCE_INTERVAL_WEEKS_MIN - 1, below(MAINTENANCE_INTERVAL_WEEKS_MIN)),
        ("interval_weeks", MAINTENANCE_INTERVAL_WEEKS_MAX + 1, above(MAINTENANCE_INTERVAL_WEEKS_MAX)),
        ("planned_sessions", MAINTENANCE_SESSIONS_MIN - 1, below(MAINTENANCE_SESSIONS_MIN)),
        ("planned_sessions", MAINTENANCE_SESSIONS_MAX + 1, above(MAINTENANCE_SESSIONS_MAX)),
    ]
    client = as_role("clinician")
    for field, value, message in refusals:
        response = client.post(url, {field: value}, format="json")
        assert (response.status_code, response.json()["errors"]) == (400, {field: [message]})
