import copy
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from clinic.models import Location, Staff
from patients.models import Patient
from scheduling import demo
from scheduling.booking.selectors import appointment_arrival_refusal, appointment_noshow_refusal
from scheduling.models import Appointment, Course, SessionRecord
from scheduling.records.fhir import course_fhir_bundle
from scheduling.records.progress import course_progress
from tests.conftest import made_once_for_module
from tests.scheduling.test_fhir import assert_valid_and_round_trips

pytestmark = pytest.mark.django_db


def utc_today_at(hour_utc: int) -> datetime:
    return datetime.combine(timezone.localdate(), datetime.min.time(), tzinfo=UTC).replace(hour=hour_utc)


@pytest.fixture(scope="module")
def _loaded_at_eight(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo loaded once, at 08:00 UTC on the suite's day (loading takes ~20 s), for the tests that read it."""
    logins_file = tmp_path_factory.mktemp("demo") / "demo-logins.txt"

    def load():
        with time_machine.travel(utc_today_at(8), tick=False):
            return demo.demo_load()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "LOGINS_FILE", logins_file)
        for logins in made_once_for_module(django_db_blocker, load):
            yield logins, logins_file


@pytest.fixture
def loaded_at_eight(_loaded_at_eight, db):
    """The demo's logins and its logins file; the test's rows are the demo's, rolled back after it."""
    return copy.deepcopy(_loaded_at_eight)


def test_demo_clinic_has_every_state_and_loads_once(loaded_at_eight):
    logins, logins_file = loaded_at_eight
    assert [(username, role) for username, _password, role, _where in logins] == [
        ("manager", "Manager"), ("frontdesk", "Front desk"), ("frontdesk2", "Front desk"),
        ("clinician", "Clinician"), ("clinician2", "Clinician"), ("clinician3", "Clinician"),
        ("clinician4", "Clinician"),
    ]
    stored = dict(line.split(" ") for line in logins_file.read_text().splitlines())
    for username, password, _role, _where in logins:  # every member of staff signs in with the printed password
        assert stored[username] == password
        assert Staff.objects.get(user__username=username).user.check_password(password), username
    assert Staff.objects.count() == 7
    zones = set(Location.objects.values_list("time_zone", flat=True))
    assert zones == {"Europe/London", "America/Toronto"}
    assert Patient.objects.count() == 56
    assert Staff.objects.filter(role="clinician").count() == 4
    assert set(Course.objects.values_list("status", flat=True)) == {"planned", "active", "completed", "discontinued"}
    assert set(Course.objects.values_list("phase", flat=True)) == {"initial", "maintenance"}
    assert set(Appointment.objects.values_list("status", flat=True)) == {
        "booked", "arrived", "fulfilled", "cancelled", "noshow"}
    assert Course.objects.filter(indication="musculoskeletal").exists()
    records = SessionRecord.objects.count()
    assert records > 100
    counts = (Patient.objects.count(), Appointment.objects.count(), records)
    again = demo.demo_load()
    assert (Patient.objects.count(), Appointment.objects.count(), SessionRecord.objects.count()) == counts
    assert again == logins
    assert logins_file.stat().st_mode & 0o777 == 0o600


def test_the_demos_today_has_sessions_to_mark_arrived_and_as_no_shows_at_each_location_at_08_utc(loaded_at_eight):
    """London and Toronto at 08:00 and 19:00 UTC (tests/scheduling/test_demo_evening.py): morning, afternoon and
    evening in one of the two zones."""
    with time_machine.travel(utc_today_at(8), tick=False):
        assert_today_has_sessions_to_mark_arrived_and_as_no_shows()


def assert_today_has_sessions_to_mark_arrived_and_as_no_shows():
    now = timezone.now()
    for location in Location.objects.all():
        today = location.local(now).date()
        this_week = Appointment.objects.filter(location=location, local_date__gte=today - timedelta(days=1),
                                               local_date__lte=today).select_related("location")
        states = {a.display_state for a in this_week}
        assert {"fulfilled", "noshow", "arrived", "booked", "confirmed"} <= states, (location, states)
        can_arrive = [a for a in this_week if appointment_arrival_refusal(appointment=a, now=now) is None]
        can_miss = [a for a in this_week if appointment_noshow_refusal(appointment=a, now=now) is None]
        assert len(can_arrive) >= 2 and len(can_miss) >= 1, location
        assert all(a.local_date == today for a in can_arrive)


def test_every_course_of_the_demo_clinic_exports_a_valid_fhir_bundle(loaded_at_eight):
    courses = list(Course.objects.all())

    statuses = Counter(course.status for course in courses)
    for course in courses:
        assert_valid_and_round_trips(course_fhir_bundle(progress=course_progress(course=course)))
    assert set(statuses) == {"planned", "active", "completed", "discontinued"}
