"""A course's response at its end is worked out once as it ends and kept on the course (scheduling.records.outcome):
the outcomes report reads it. Each course of the report's clinic, judged by hand."""

import pytest
from django.db import IntegrityError, transaction

from scheduling.models import Course
from scheduling.records.outcome import OUTCOME_FIELDS, course_outcomes_write
from tests.scheduling.report_clinics import outcomes_clinic

pytestmark = pytest.mark.django_db


def _kept(course: Course) -> tuple:
    course.refresh_from_db()
    return tuple(getattr(course, name) for name in OUTCOME_FIELDS)


def test_each_initial_course_keeps_its_response_as_it_ends():
    _, courses = outcomes_clinic()
    # (judged, responded, sessions to response): A 4 -> 3 at its 2nd session; B 3 -> 3 (discontinued) did not;
    # C pain 7 -> 4 first reached 2 points down at its 3rd; D 3 -> 2 at its 2nd; F one score only, not judged;
    # E is still open and D's maintenance course is not judged on its response: neither keeps one.
    assert {name: _kept(course) for name, course in courses.items()} == {
        "A": (True, True, 2), "B": (True, False, None), "C": (True, True, 3), "D": (True, True, 2),
        "E": (None, None, None), "F": (False, False, None)}
    maintenance = Course.objects.get(follows=courses["D"])
    assert _kept(maintenance) == (None, None, None)


def test_writing_again_gives_the_same_outcomes_and_skips_open_and_maintenance_courses():
    _, courses = outcomes_clinic()
    kept = {name: _kept(course) for name, course in courses.items()}
    Course.objects.update(outcome_judged=None, outcome_responded=None, outcome_sessions_to_response=None)
    # As the migration and the bench's data generator call it: every course at once, in one statement.
    written = course_outcomes_write(course_ids=list(Course.objects.values_list("pk", flat=True)))
    assert written == 5  # A, B, C, D and F: the ended initial courses
    assert {name: _kept(course) for name, course in courses.items()} == kept


def test_the_database_refuses_an_outcome_on_an_open_course_or_a_response_not_judged():
    _, courses = outcomes_clinic()
    for name, values in (("E", {"outcome_judged": True, "outcome_responded": False}),
                         ("F", {"outcome_judged": False, "outcome_responded": True}),
                         ("B", {"outcome_sessions_to_response": 2})):
        with pytest.raises(IntegrityError), transaction.atomic():
            Course.objects.filter(pk=courses[name].pk).update(**values)
